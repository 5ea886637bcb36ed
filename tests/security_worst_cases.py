"""Per detector, the inputs that make a backtracking pattern work hardest, 1 MB of each.

Shared by the detector tests (which check that every pattern stays linear) and by
`make bench-security` (which measures the 20 ms-per-megabyte target on them).
"""
from __future__ import annotations

import orjson

MB = 1024 * 1024


def chat(*messages: tuple[str, str]) -> str:
    return orjson.dumps({"model": "gpt-4o-mini",
                         "messages": [{"role": r, "content": c} for r, c in messages]}).decode()


def _fill(unit: str, size: int = MB) -> str:
    return (unit * (size // len(unit) + 1))[:size]


# Long runs of what a pattern accepts, anchors on every other character, near-misses.
WORST_CASES = {
    "pii.email": ["a", "a@", "a@a.", "@a.", "a.a-a", ".@-", "x@" + "a." * 100],
    "pii.credit_card": ["1", "1 ", "1-", "12 34-", "1" * 15 + "x", "4111 1111 1111 1111 "],
    "pii.us_ssn": ["123-45-", "1-", "123-45-678", "12-", "536-22-8714x"],
    "pii.phone": ["+1 ", "+12 (345) ", "+", "+1234567 ", "+1.2.3.", "(212) 555-7788 ", "1 "],
    "pii.iban": ["DE89 ", "GB82WEST", "A1", "AB12 1234 "],
    "pii.national_id": ["12345678", "X1234567", "RSSMRA85T10", "2345 6789 ", "A1"],
    "pii.ip_address": ["1.1.", "255.", "1,2,", "0.123,", "a:", "1:2:3:", "::1 ", "ff:", "1.1.1.1 "],
    "secret.aws_access_key": ["AKIA", "AKIAAAAA"],
    "secret.github_token": ["ghp_", "ghp_aaaa", "github_pat_"],
    "secret.gitlab_token": ["glpat-", "glpat-aaaa"],
    "secret.slack_token": ["xoxb-", "xoxb-aaaa", "hooks.slack.com/services/T123456/"],
    "secret.stripe_key": ["sk_live_", "sk_live_aaaa", "whsec_"],
    "secret.private_key": ["-----BEGIN ", "-----BEGIN RSA "],
    "secret.jwt": ["eyJ", "eyJhbGciOi.", "eyJa.eyJa."],
    "secret.provider_key": ["sk-", "sk-proj-", "AIza", "sk-*** "],
    "injection.instruction_override": ["ignore ", "ignore all the previous ", "IGNORE ANY THE PRIOR PROMPT",
                                       "ignora ", "ignora todas las ", "vergiss alle ", "忽略", "forget everything "],
    "injection.system_prompt_exfiltration": ["reveal me your ", "show the system ", "print me the system prompt",
                                             "what is your system ", "repeat the words ", "muestrame el "],
    "injection.jailbreak": ["you are ", "DAN ", "developer mode ", "pretend ", "without any restrictions ", "e a d g ",
                            "act as an unfiltered "],
    "injection.special_tokens": ["<|", "<|im_", "[INST", "<<SYS"],
    "injection.hidden_instructions": ["\u200b", "ig\u200bnore ", "AAAA", "aWdub3Jl", "\U000E0061"],
    "injection.tool_output": ["note to the ai ", "assistant reading "],
}
WORST_BODIES: list[tuple[str, str]] = [
    (f"{kind}-{variant}-{i}", _fill(unit) + tail)
    for kind, units in WORST_CASES.items()
    for i, unit in enumerate(units)
    for variant, tail in (("ascii", ""), ("non-ascii", "é"))
] + [
    (f"{kind}-interleaved-{i}", _fill("é" + unit))
    for kind, units in WORST_CASES.items()
    for i, unit in enumerate(units[:2])
] + [
    # A tool result, so the tool-output checks run too.
    (f"{kind}-in-tool-{i}", chat(("tool", _fill(unit, MB // 2))))
    for kind, units in WORST_CASES.items() if kind.startswith("injection.")
    for i, unit in enumerate(units[:2])
]


