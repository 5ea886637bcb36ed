"""The documentation site (MkDocs output in site/), served at /docs/ by the running server."""
