"""Security flags: PII, secrets and prompt-injection detectors, and per-project policies.

Import nothing from Django here: the proxy imports the detectors on its hot path.
"""
