"""The API's description: OpenAPI 3.1 at /api/v1/openapi.json and its docs page at /api/v1/docs.

Each app describes its own endpoints in an `openapi.py` beside its views, as a PATHS dict
(OpenAPI path → path item) built with the helpers in spanlens.openapi.schema. The spec
collects every installed app's PATHS, so a new app documents itself by adding that module.
"""
