"""Find PII, secrets and prompt injections in a stored body, in linear time.

Every stored body is scanned in the log writer, which shares the GIL with the
proxy's event loop: a slow scan stalls every tenant's calls. Hence:

- Each pattern is linear for Python's backtracking engine: it starts with a
  literal or a character class (the engine skips to candidates at C speed), a
  lookbehind right after the first character rejects starts inside a longer run
  (so a megabyte of one letter is one start, not a million), every repetition is
  bounded, and no two repetitions can match the same text.
- A regex only proposes candidates; checksums and libraries (Luhn and issuer
  prefixes, mod-97, phonenumbers, python-stdnum) decide. Validation is capped at
  MAX_VALIDATIONS candidates per detector and body, so a body made of
  candidates costs a constant on top of the regex.
- Cheap necessary conditions (a character count, a keyword) skip most
  detectors on most bodies.
- At most SCAN_WINDOW characters are read: stored bodies are capped at
  BODY_CAP_BYTES (64 KB by default) already.

JSON bodies are read as their strings (so "\\u5ffd" is the character it
escapes, and the role of each message is known): injections count only
outside system / developer messages (an operator's own prompt says "never
reveal your system prompt"), and injections inside tool / function results
are also reported as tool-output injections.
"""
from __future__ import annotations

import base64
import binascii
import bisect
import ipaddress
import re
from dataclasses import dataclass
from typing import Callable

import ahocorasick
import orjson

# The default body cap (64 KB) plus room for the truncation marker.
SCAN_WINDOW = 64 * 1024 + 256
MAX_VALIDATIONS = 64
SNIPPET_CHARS = 60

W = "0-9A-Za-z_"

USER, SYSTEM, TOOL = 0, 1, 2


@dataclass(frozen=True, slots=True)
class Match:
    kind: str
    start: int
    end: int
    value: str
    snippet: str
    confidence: float


@dataclass(frozen=True, slots=True)
class Facts:
    """What the cheap necessary conditions look at, computed once per body."""
    text: str
    lowered: str
    digits: int
    ascii: bool
    # The UTF-8 bytes with every ASCII digit as "d": b"ddd-dd-dddd" in it is
    # what an SSN needs, at C speed.
    shape: bytes


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: re.Pattern
    possible: Callable[[Facts], bool]
    # Returns the confidence of a candidate, or 0 to reject it.
    validate: Callable[[re.Match], float]
    mask: Callable[[str], str]
    injection: bool = False
    # Reads the lowercased text (see the injection patterns).
    lowered: bool = False
    max_validations: int = MAX_VALIDATIONS


def _always(confidence: float) -> Callable[[re.Match], float]:
    return lambda m: confidence


# ---------------------------------------------------------------- masking

def _keep_last(value: str, keep: int) -> str:
    """Digits and letters but the last `keep` become "*"; separators stay so the shape reads."""
    alnum = sum(c.isalnum() for c in value)
    out, seen = [], 0
    for c in value:
        if c.isalnum():
            seen += 1
            out.append(c if seen > alnum - keep else "*")
        else:
            out.append(c)
    return "".join(out)


def _mask_email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def _mask_secret(value: str) -> str:
    return value[:4] + "*" * min(max(len(value) - 4, 3), 12)


def _mask_ip(value: str) -> str:
    if "." in value:
        parts = value.split(".")
        return ".".join(parts[:2] + ["*", "*"])
    return value.split(":")[0] + ":*:*"


def _phrase(value: str) -> str:
    text = " ".join(value.split())
    return text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"


# ---------------------------------------------------------------- validators

def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_issuer(digits: str) -> str | None:
    n = len(digits)
    p2, p3, p4, p6 = int(digits[:2]), int(digits[:3]), int(digits[:4]), int(digits[:6])
    if digits[0] == "4" and n in (13, 16, 19):
        return "visa"
    if (51 <= p2 <= 55 or 2221 <= p4 <= 2720) and n == 16:
        return "mastercard"
    if p2 in (34, 37) and n == 15:
        return "amex"
    if (p4 == 6011 or 644 <= p3 <= 649 or p2 == 65 or 622126 <= p6 <= 622925) and 16 <= n <= 19:
        return "discover"
    if 3528 <= p4 <= 3589 and 16 <= n <= 19:
        return "jcb"
    if (300 <= p3 <= 305 or p2 in (36, 38, 39)) and 14 <= n <= 19:
        return "diners"
    if p2 == 62 and 16 <= n <= 19:
        return "unionpay"
    if p4 in (5018, 5020, 5038, 5893, 6304, 6759, 6761, 6762, 6763) and 16 <= n <= 19:
        return "maestro"
    return None


def _card(m: re.Match) -> float:
    digits = m.group().replace(" ", "").replace("-", "")
    if not 13 <= len(digits) <= 19 or not luhn_ok(digits) or card_issuer(digits) is None:
        return 0.0
    return 0.95


def _ssn(m: re.Match) -> float:
    from stdnum.us import ssn

    return 0.85 if ssn.is_valid(m.group()) else 0.0


def _iban(m: re.Match) -> float:
    from stdnum import iban

    return 0.97 if iban.is_valid(m.group()) else 0.0


_US_NATIONAL = re.compile(r"(?:\+?1[ .-]?)?(?:\([0-9]{3}\) ?|[0-9]{3}[ .-])[0-9]{3}[ .-][0-9]{4}")


def _phone(m: re.Match) -> float:
    import phonenumbers

    value = m.group()
    digits = sum(c.isdigit() for c in value)
    if not 8 <= digits <= 15:
        return 0.0
    if value[0] == "+":
        region, confidence = None, 0.9
    elif _US_NATIONAL.fullmatch(value):
        # Without a country code only the North American layout is distinctive
        # enough: bare digit runs are order numbers and timestamps.
        region, confidence = "US", 0.8
    else:
        return 0.0
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return 0.0
    return confidence if phonenumbers.is_valid_number(number) else 0.0


_FILE_TLDS = frozenset("png jpg jpeg gif svg webp ico bmp js mjs ts tsx jsx css scss py rb go rs java json yaml yml "
                       "toml md txt html htm xml csv pdf zip gz tar lock sh".split())


def _email(m: re.Match) -> float:
    tld = m.group().rsplit(".", 1)[-1].lower()
    return 0.0 if tld in _FILE_TLDS else 0.9


def _ipv4(m: re.Match) -> float:
    parts = m.group().split(".")
    if any(len(p) > 1 and p[0] == "0" for p in parts) or any(int(p) > 255 for p in parts):
        return 0.0
    return 0.75


def _ipv6(m: re.Match) -> float:
    value = m.group()
    groups = [g for g in value.split(":") if g]
    if len(groups) < 3 or ("::" not in value and value.count(":") != 7):
        return 0.0
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return 0.0
    return 0.8


def _stdnum(module_name: str) -> Callable[[re.Match], float]:
    def validate(m: re.Match) -> float:
        import importlib

        module = importlib.import_module(f"stdnum.{module_name}")
        try:
            return 0.9 if module.is_valid(m.group()) else 0.0
        except Exception:  # stdnum raises on some odd inputs instead of answering False
            return 0.0
    return validate


def _jwt(m: re.Match) -> float:
    head = m.group().split(".", 1)[0]
    try:
        decoded = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
    except (binascii.Error, ValueError):
        return 0.0
    return 0.9 if b'"alg"' in decoded else 0.0


# ---------------------------------------------------------------- patterns

def _p(source: str, flags: int = 0) -> re.Pattern:
    return re.compile(source, flags)


EMAIL = _p(r"@(?<=[A-Za-z0-9._%+-]@)(?:[A-Za-z0-9-]{1,63}\.){1,8}[A-Za-z]{2,63}(?![A-Za-z0-9-])")
CARD = _p(rf"[0-9](?<![{W}][0-9])(?:[ -]?[0-9]){{12,18}}(?![{W}])")
SSN = _p(rf"[0-9](?<![{W}-][0-9])[0-9]{{2}}-[0-9]{{2}}-[0-9]{{4}}(?![{W}]|-[0-9])")
PHONE = _p(rf"[+(0-9](?<![{W}+(.-][+(0-9])[0-9 ().-]{{6,22}}[0-9](?![{W}])")
IBAN = _p(rf"[A-Z](?<![{W}][A-Z])[A-Z][0-9]{{2}}(?: ?[A-Z0-9]{{4}}){{2,7}}(?: ?[A-Z0-9]{{1,4}})?(?![{W}])")
ES_DNI = _p(rf"[0-9](?<![{W}][0-9])[0-9]{{7}}-?[A-Z](?![{W}])")
ES_NIE = _p(rf"[XYZ](?<![{W}][XYZ])-?[0-9]{{7}}-?[A-Z](?![{W}])")
IT_CODICE_FISCALE = _p(rf"[A-Z](?<![{W}][A-Z])[A-Z]{{5}}[0-9]{{2}}[A-Z][0-9]{{2}}[A-Z][0-9]{{3}}[A-Z](?![{W}])")
IN_AADHAAR = _p(rf"[2-9](?<![{W}][2-9])[0-9]{{3}} [0-9]{{4}} [0-9]{{4}}(?![{W}])")
IPV4 = _p(rf"[0-9](?<![{W}.][0-9])[0-9]{{0,2}}(?:\.[0-9]{{1,3}}){{3}}(?![{W}]|\.[0-9])")
IPV6 = _p(rf"[0-9A-Fa-f:](?<![{W}:][0-9A-Fa-f:])[0-9A-Fa-f:]{{2,38}}(?![{W}:])")

AWS_KEY = _p(rf"A(?<![{W}]A)(?:KIA|SIA|BIA|CCA)[A-Z0-9]{{16}}(?![{W}])")
GITHUB_TOKEN = _p(rf"g(?<![{W}]g)(?:h[pousr]_[A-Za-z0-9]{{36,251}}|ithub_pat_[A-Za-z0-9_]{{22,251}})(?![{W}])")
GITLAB_TOKEN = _p(rf"g(?<![{W}-]g)l(?:pat|dt|rt|ptt)-[A-Za-z0-9_-]{{20,100}}")
SLACK_TOKEN = _p(
    rf"[xh](?<![{W}-][xh])(?:ox[abposer]-[A-Za-z0-9-]{{10,200}}"
    r"|ooks\.slack\.com/services/T[A-Za-z0-9]{6,20}/B[A-Za-z0-9]{6,20}/[A-Za-z0-9]{16,40})")
STRIPE_KEY = _p(rf"[srpw](?<![{W}][srpw])(?:(?<=[srp])k_(?:live|test)_[A-Za-z0-9]{{16,247}}"
                r"|(?<=w)hsec_[A-Za-z0-9]{24,100})")
PRIVATE_KEY = _p(r"-----BEGIN [A-Z0-9 ]{0,24}PRIVATE KEY(?: BLOCK)?-----")
JWT = _p(rf"e(?<![{W}-]e)yJ[A-Za-z0-9_-]{{8,2048}}\.eyJ[A-Za-z0-9_-]{{8,4096}}\.[A-Za-z0-9_-]{{8,1024}}")
# Provider keys as the client sent them, or as privacy.mask_keys stored them.
PROVIDER_KEY = _p(rf"[sA](?<![{W}-][sA])(?:k-(?:proj-|ant-)?|Iza|l_live_)(?:\*\*\*|[A-Za-z0-9_-]{{20,200}})")

# Injection patterns read the lowercased text and carry no IGNORECASE flag and
# no leading \b: then the engine skips to the first letters of the alternatives
# at C speed instead of trying every alternative at every position. Word lists
# are written as tries (first letters factored out): each failed start then
# costs a few comparisons, not one per word.
_QUAL = (r"(?:a(?:ll|ny|bove)|e(?:very|arlier|xisting)|pr(?:evious|ior|eceding)|initial|o(?:riginal|ld)|your|"
         r"s(?:ystem|afety)|developer|former)")
_FILL = r"(?:th(?:e(?:se)?|ose)|of|my|and)"
_TERM = (r"(?:instructions?|pro(?:mpts?|gramming)|r(?:ules|estrictions)|di(?:rectives?|rections)|"
         r"gu(?:idelines|ardrails)|co(?:mmands|nstraints|ntext))")
OVERRIDE = _p(
    r"(?:ignor(?:e|ing)|disregard(?:ing)?|forget|overrid(?:e|ing)|bypass|abandon|discard|set aside|"
    r"do not follow|don't follow|stop following) (?:"
    rf"(?:{_FILL} )?{_QUAL} (?:{_FILL} )?(?:{_QUAL} )?{_TERM}\b"
    r"|(?:all of |everything )?(?:the |what(?:'s| is| was) )?(?:above|previous|prior)(?=[.,;:!\n]|$| and)"
    r"|everything (?:you (?:were|have been|know|'ve been) told|above|before))"
    r"|your (?:new|real|true|updated) instructions (?:are|is)\b")
# The common languages, as the attacks are sent; a separate pattern so English text skips it.
OVERRIDE_TRANSLATED = _p(
    r"(?:ignor(?:a|ar|e[zr]?|iere|ier|ieren sie)|olvida|oublie[zr]?|vergiss|vergessen sie|dimentica|esque[çc]a|"
    r"negeer) (?:(?:t(?:outes|utte|odas|odo|es|us)|l(?:es|e|as|o)|a(?:lle|s)|d(?:e|ie|eine)|ihre|vos|sämtliche|"
    r"v(?:orherigen|origen|orige|oorgaande)|bisherigen|obigen|früheren|eerdere) ){0,3}"
    r"(?:i(?:nstr(?:ucciones|uctions|uções|ucoes|uktionen|ucties)|struzioni|ndica(?:ciones|zioni))|"
    r"r(?:eglas|ègles|egole|egras|egeln|egels)|consignes|anweisungen|befehle|opdrachten)\b")
# Apart from the Latin-script ones: mixing first letters of all scripts in one
# pattern loses the engine's skip-ahead on each of them.
OVERRIDE_OTHER_SCRIPTS = _p(
    r"(?:игнорируй|проигнорируй|забудь) (?:все )?(?:предыдущие|прежние|вышеуказанные) (?:инструкции|указания|правила)"
    r"|(?:忽略|无视|忘记|忽视|忘掉)[^。\n]{0,8}?(?:指令|指示|规则|提示词)"
    r"|(?:以前|前|上記|これまで)の(?:すべての)?(?:指示|命令|ルール)を?(?:無視|忘れ)"
    r"|이전 지시(?:사항)?(?:을|를)? ?(?:무시|잊어)")
_EARLIER = _p(r"anteriores|previas|précédentes|precedentes|antérieures|ci-dessus|vorherigen|bisherigen|vorigen|"
              r"obigen|früheren|alle |precedenti|sopra|tutte|todas|toutes|acima|prévias|vorige|eerdere|voorgaande|"
              r"bovenstaande|sämtliche")


def _translated(m: re.Match) -> float:
    """The Latin-script languages: the verb and the noun, and "previous" / "all" in between or just after."""
    if m.group()[0] not in "igovdenIGOVDEN":
        return 0.85
    return 0.85 if _EARLIER.search(m.string, m.start(), min(len(m.string), m.end() + 16)) else 0.0


_OVERRIDE_NEEDLES = ("ignor", "disregard", "forget", "overrid", "bypass", "abandon", "discard", "set aside",
                     "follow", "instructions are", "instructions is")
# Not "ignor": English text would pay for this pattern too.
_TRANSLATED_NEEDLES = ("ignora", "ignorez", "ignorer", "ignorier", "précédentes", "antérieures", "ci-dessus",
                       "anteriores", "olvida", "oubli", "vergiss", "vergessen", "dimentica", "esque", "negeer")
_OTHER_SCRIPT_NOUNS = ("инструкци", "указани", "правил", "指令", "指示", "规则", "提示词", "命令", "ルール", "지시")
_OTHER_SCRIPT_NEEDLES = ("игнор", "забудь",
                       "忽略", "无视", "忘记", "忽视", "忘掉", "無視", "忘れ", "무시", "잊어")

EXFILTRATION = _p(
    r"(?:reveal|print|show|display|output|repeat|recite|dump|leak|expose|give me|tell me|write out|"
    r"paste|spell out)(?<!not reveal)(?<!never reveal)(?<!n't reveal)(?<!not show)(?<!never show)(?<!n't show)"
    r"(?<!not print)(?<!n't print)(?<!not repeat)(?<!n't repeat)(?<!never repeat)"
    r" (?:me |us )?(?:(?:the|your|all|of|full|entire|complete|exact|verbatim|whole|text|words|in|back|out|"
    r"contents|content) ){0,4}(?:system|initial|original|hidden|secret|internal|developer|pre-?) ?"
    r"(?:prompt|instructions|message|rules|configuration)"
    r"|what (?:is|was|are|were) your (?:(?:system|initial|original|hidden|secret|exact) ){1,3}(?:prompt|instructions)"
    r"|repeat (?:the |all )?(?:words|text|everything) (?:above|before this)"
    r"|(?:starting|beginning) with [\"']?you are (?:a|an|chatgpt)\b")
EXFILTRATION_TRANSLATED = _p(
    r"(?:mu[eé]stra(?:me)?|revela(?:me)?|imprime) (?:tu|el) (?:prompt|mensaje) (?:del |de )?sistema"
    r"|(?:montre|affiche|révèle|revele)(?:-moi)? (?:ton|le|votre) prompt (?:système|systeme)"
    r"|(?:zeige|zeig|gib)(?: mir)? (?:deinen|den|ihren) system-?prompt")
_EXFIL_NEEDLES = ("prompt", "instructions", "system", "above", "you are", "rules", "message")

# Split by first word, each with its own cheap condition: one pattern with all
# of them would start an attempt at most letters of any English text.
JAILBREAK = _p(r"do anything now\b")
JAILBREAK_YOU = _p(
    r"you(?:'re| are) (?:(?:no longer|not) (?:bound|restricted|limited|constrained) by\b"
    r"|(?:now )?(?:a |an )?(?:jailbroken|unfiltered|uncensored|unrestricted|unaligned|amoral) "
    r"(?:ai|assistant|model|chatbot|version|llm|bot)\b)")
JAILBREAK_MODE = _p(
    r"(?:developer|god|jailbreak|unrestricted) mode (?:enabled|activated|on|output)\b"
    r"|(?:enable|activate|enter) (?:developer|god|jailbreak|unrestricted) mode\b"
    r"|(?:act as|become) (?:a |an )?(?:jailbroken|unfiltered|uncensored|unrestricted|unaligned|amoral) "
    r"(?:ai|assistant|model|chatbot|version|llm|bot)\b")
JAILBREAK_FILTERS = _p(
    r"(?:bypass|disable|turn off|ignore) (?:your |all |the |any )?(?:safety|content|ethical|moderation) "
    r"(?:filters?|guidelines|restrictions|protocols|policies)")
# "Without restrictions" is a jailbreak when a role-play set it up just before (see _role_play).
UNRESTRICTED = _p(
    r"(?:no|without|free from|free of|not bound by|don't have|do not have) (?:any )?"
    r"(?:ethical |moral |content |safety )?(?:restrictions|filters|limits|limitations|guidelines|censorship|"
    r"policies|principles)\b")
_ROLE_PLAY = _p(r"pretend|imagine|roleplay|role-play|act as|you are|you're")


def _role_play(m: re.Match) -> float:
    return 0.8 if _ROLE_PLAY.search(m.string, max(0, m.start() - 60), m.start()) else 0.0


# "DAN" is a name too: only in capitals and in a jailbreak's phrasing. Reads the original text.
DAN = _p(r"DAN(?![A-Za-z])(?:(?<=(?i:you are) DAN)|(?<=(?i:you're) DAN)|(?<=(?i:act as) DAN)|(?<=(?i: as) DAN)"
         r"|(?<=(?i:called) DAN)|(?<=(?i:named) DAN)|(?<=(?i:enable) DAN)| (?i:mode|prompt|jailbreak)\b)")

SPECIAL_TOKENS = _p(
    r"<\|(?:im_start|im_end|im_sep|endoftext|system|user|assistant|begin_of_text|end_of_text|start_header_id|"
    r"end_header_id|eot_id|eom_id|fim_prefix|fim_middle|fim_suffix|end)\|>"
    r"|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>")

# Addressed to the model from inside a document or tool result (lowercased text).
TOOL_DIRECTIVE = _p(
    r"(?:note|message|instructions?|attention|important)(?: to| for)? (?:the |any )?(?:ai|assistant|llm|model|"
    r"agent|chatbot)s?\b[^.\n]{0,20}?[:,]"
    r"|(?:ai|assistant|llm|model|agent)s? (?:reading|processing|summari[sz]ing) this\b")

HIDDEN_CHARS = _p("[\u200b\u2060-\u2064\ufeff\u202a-\u202e\u2066-\u2069]")
# One inside a word ("ig\u200bnore") hides the word from the patterns.
HIDDEN_IN_WORD = _p("[\u200b\u2060-\u2064\ufeff](?<=[A-Za-z][\u200b\u2060-\u2064\ufeff])(?=[A-Za-z])")
TAG_CHARS = _p("[\U000e0020-\U000e007e]{8,4096}")
BASE64 = _p(r"[A-Za-z0-9+/](?<![A-Za-z0-9+/=][A-Za-z0-9+/])[A-Za-z0-9+/]{39,4095}={0,2}")


# The prefilters run for every detector on every stored body. Most are "one of these
# substrings occurs": those are kept as data (Needles), so find() searches every distinct
# needle once per body, in C (filter over str.__contains__), and maps the hits to the
# detectors that need them, instead of calling ~30 small functions per body (which cost
# more than the searches: 10-16 us of a 35 us scan of a short chat body).
class Needles:
    """Possible when one of the needles occurs in the text (lowercased when `lowered`);
    with `also`, one of those must occur as well."""

    __slots__ = ("needles", "lowered", "also", "_ascii")

    def __init__(self, needles: tuple[str, ...], lowered: bool, also: "Needles | None" = None):
        self.needles, self.lowered, self.also = tuple(needles), lowered, also
        # A non-ASCII needle cannot occur in ASCII text: no need to search for it.
        self._ascii = tuple(n for n in self.needles if n.isascii())

    def searched(self, ascii_text: bool) -> tuple[str, ...]:
        return self._ascii if ascii_text else self.needles

    def __call__(self, f: Facts) -> bool:
        source = f.lowered if self.lowered else f.text
        return any(map(source.__contains__, self.searched(f.ascii))) and (self.also is None or self.also(f))


def _has(needles: tuple[str, ...]) -> Needles:
    return Needles(needles, lowered=True)


def _has_both(verbs: tuple[str, ...], nouns: tuple[str, ...]) -> Needles:
    # "Ignore" alone is ordinary text in every language; without "instructions" the
    # pattern cannot match, so a page of the verb costs two substring searches.
    return Needles(verbs, lowered=True, also=Needles(nouns, lowered=True))


def _any_has(*literals: str) -> Needles:
    return Needles(literals, lowered=False)


DETECTORS: tuple[Detector, ...] = (
    Detector("pii.email", EMAIL, lambda f: "@" in f.text, _email, _mask_email),
    # phonenumbers costs tens of microseconds a number.
    Detector("pii.phone", PHONE, lambda f: f.digits >= 8 and (b"ddd" in f.shape or "+" in f.text), _phone, lambda v: _keep_last(v, 2), max_validations=24),
    Detector("pii.credit_card", CARD, lambda f: f.digits >= 13 and b"dddd" in f.shape, _card, lambda v: _keep_last(v, 4)),
    Detector("pii.iban", IBAN, lambda f: b"dddd" in f.shape, _iban, lambda v: v[:4] + _keep_last(v[4:], 3)),
    Detector("pii.us_ssn", SSN, lambda f: b"ddd-dd-dddd" in f.shape, _ssn, lambda v: _keep_last(v, 4)),
    Detector("pii.national_id", ES_DNI, lambda f: b"ddddddd" in f.shape, _stdnum("es.dni"), lambda v: _keep_last(v, 3)),
    Detector("pii.national_id", ES_NIE, lambda f: b"ddddddd" in f.shape, _stdnum("es.nie"), lambda v: _keep_last(v, 3)),
    Detector("pii.national_id", IT_CODICE_FISCALE, lambda f: b"ddd" in f.shape, _stdnum("it.codicefiscale"),
             lambda v: _keep_last(v, 3)),
    Detector("pii.national_id", IN_AADHAAR, lambda f: b"dddd dddd dddd" in f.shape, _stdnum("in_.aadhaar"),
             lambda v: _keep_last(v, 4)),
    Detector("pii.ip_address", IPV4, lambda f: b"d.d" in f.shape, _ipv4, _mask_ip),
    Detector("pii.ip_address", IPV6, lambda f: "::" in f.text or f.text.count(":") >= 7, _ipv6, _mask_ip),
    Detector("secret.aws_access_key", AWS_KEY, _any_has("AKIA", "ASIA", "ABIA", "ACCA"), _always(0.95), _mask_secret),
    Detector("secret.github_token", GITHUB_TOKEN, _any_has("gh", "github_pat_"), _always(0.95), _mask_secret),
    Detector("secret.gitlab_token", GITLAB_TOKEN, _any_has("gl"), _always(0.9), _mask_secret),
    Detector("secret.slack_token", SLACK_TOKEN, _any_has("xox", "hooks.slack.com"), _always(0.9), _mask_secret),
    Detector("secret.stripe_key", STRIPE_KEY, _any_has("k_live_", "k_test_", "whsec_"), _always(0.95), _mask_secret),
    Detector("secret.private_key", PRIVATE_KEY, _any_has("-----BEGIN"), _always(0.99), lambda v: v),
    Detector("secret.jwt", JWT, _any_has("eyJ"), _jwt, _mask_secret),
    Detector("secret.provider_key", PROVIDER_KEY, _any_has("sk-", "AIza", "sl_live_"), _always(0.9),
             lambda v: v if v.endswith("***") else _mask_secret(v)),
    Detector("injection.instruction_override", OVERRIDE, _has(_OVERRIDE_NEEDLES), _always(0.85), _phrase, True,
             True),
    Detector("injection.system_prompt_exfiltration", EXFILTRATION, _has(_EXFIL_NEEDLES), _always(0.8), _phrase,
             True, True),
    Detector("injection.jailbreak", JAILBREAK, _has(("anything now",)), _always(0.8), _phrase, True, True),
    Detector("injection.jailbreak", JAILBREAK_YOU, _has(("you",)), _always(0.8), _phrase, True, True),
    Detector("injection.jailbreak", JAILBREAK_MODE, _has((" mode", "jailbr", "unfilter", "uncensor", "unrestrict",
                                                         "unaligned", "amoral")), _always(0.8), _phrase, True, True),
    Detector("injection.jailbreak", JAILBREAK_FILTERS, _has(("safety", "content", "ethical", "moderation")),
             _always(0.8), _phrase, True, True),
    Detector("injection.instruction_override", OVERRIDE_TRANSLATED, _has(_TRANSLATED_NEEDLES), _translated,
             _phrase, True, True),
    Detector("injection.instruction_override", OVERRIDE_OTHER_SCRIPTS, _has_both(_OTHER_SCRIPT_NEEDLES, _OTHER_SCRIPT_NOUNS), _always(0.85),
             _phrase, True, True),
    Detector("injection.system_prompt_exfiltration", EXFILTRATION_TRANSLATED,
             _has(("sistema", "système", "systeme", "system-prompt", "systemprompt", "system prompt")), _always(0.8),
             _phrase, True, True),
    Detector("injection.jailbreak", UNRESTRICTED, _has(("restrictions", "filters", "limit", "guidelines",
                                                        "censorship", "policies", "principles")),
             _role_play, _phrase, True, True),
    Detector("injection.jailbreak", DAN, _any_has("DAN"), _always(0.8), _phrase, True),
    Detector("injection.special_tokens", SPECIAL_TOKENS, _any_has("<|", "[INST]", "[/INST]", "<<SYS>>", "_of_turn>"),
             _always(0.9), lambda v: v, True),
)


def _needle_plan(detectors) -> dict:
    """For each (lowered, ascii text) case: an Aho-Corasick automaton of its needles, each
    needle's value the indices of the detectors it makes possible."""
    plan = {}
    for lowered in (False, True):
        for ascii_text in (False, True):
            by_needle: dict[str, list[int]] = {}
            for i, detector in enumerate(detectors):
                check = detector.possible
                if isinstance(check, Needles) and check.lowered == lowered:
                    for needle in check.searched(ascii_text):
                        by_needle.setdefault(needle, []).append(i)
            automaton = ahocorasick.Automaton()
            for needle, indices in by_needle.items():
                automaton.add_word(needle, tuple(indices))
            automaton.make_automaton()
            plan[lowered, ascii_text] = automaton
    return plan


_PLAN = _needle_plan(DETECTORS)


# The detectors whose prefilter is a function (PII checks on digits and shapes), and those
# whose needles also need one of a second set: both looked up once, not per body.
_CHECKED = tuple((i, d.possible) for i, d in enumerate(DETECTORS) if not isinstance(d.possible, Needles))
_ALSO = tuple((i, d.possible.also) for i, d in enumerate(DETECTORS)
              if isinstance(d.possible, Needles) and d.possible.also is not None)


def _possible(facts: Facts) -> list[Detector]:
    """The detectors whose prefilter passes on this body, in table order."""
    hit: set[int] = set()
    for lowered, source in ((False, facts.text), (True, facts.lowered)):
        # One pass over the text finds every needle (overlapping ones too): 80 separate
        # substring searches cost ~3x as much on a short chat body.
        for _, indices in _PLAN[lowered, facts.ascii].iter(source):
            hit.update(indices)
    for i, also in _ALSO:
        if i in hit and not also(facts):
            hit.discard(i)
    hit.update(i for i, check in _CHECKED if check(facts))
    return [DETECTORS[i] for i in sorted(hit)]


_INSTRUCTION_KINDS = ("injection.instruction_override", "injection.system_prompt_exfiltration",
                      "injection.jailbreak")
KINDS: tuple[str, ...] = tuple(dict.fromkeys(
    [d.kind for d in DETECTORS] + ["injection.hidden_instructions", "injection.tool_output"]))


# ---------------------------------------------------------------- reading bodies

_SYSTEM_KEYS = frozenset(("system", "systemInstruction", "system_instruction", "instructions"))
_TOOL_KEYS = frozenset(("functionResponse", "function_response", "tool_result"))
_SKIP_KEYS = frozenset(("model", "role", "type", "object", "id", "tool_call_id", "finish_reason", "stop_reason"))
_SYSTEM_ROLES = frozenset(("system", "developer"))
_TOOL_ROLES = frozenset(("tool", "function", "ipython"))
_TOOL_TYPES = frozenset(("tool_result", "function_call_output", "function_result"))
_CONTAINERS = (dict, list)
_ESCAPES = re.compile(r"(?:\\u[0-9a-fA-F]{4}){1,1024}")


def _unescape(match: re.Match) -> str:
    raw = match.group().encode("ascii").decode("unicode_escape")
    return raw.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def read_body(body: str) -> tuple[str, list[tuple[int, int]]]:
    """The text to scan and its segments as (start offset, USER / SYSTEM / TOOL), in order.

    A JSON body becomes its strings, one per line, each tagged with the role of
    the message it belongs to; anything else (a truncated body) is read as is,
    with JSON escapes of non-ASCII characters decoded.
    """
    stripped = body.lstrip()
    if stripped[:1] in ("{", "["):
        try:
            doc = orjson.loads(body)
        except orjson.JSONDecodeError:
            doc = None
        if doc is not None:
            return _strings(doc)
    text = _ESCAPES.sub(_unescape, body) if "\\u" in body else body
    return text, [(0, USER)]


def _strings(doc) -> tuple[str, list[tuple[int, int]]]:
    # Depth first in document order. A container's leading strings are taken on the spot
    # and the rest of its children pushed (reversed) at the first nested one, so the
    # stack sees only containers: most strings of a chat body never become a stack entry.
    # `type(x) is` suffices because the document comes from orjson, which makes exact types.
    parts: list[str] = []
    roles: list[int] = []
    stack = [(doc, USER)]
    while stack:
        node, role = stack.pop()
        kind = type(node)
        if kind is dict:
            message_role = node.get("role")
            if type(message_role) is str:
                role = SYSTEM if message_role in _SYSTEM_ROLES else TOOL if message_role in _TOOL_ROLES else role
            tag = node.get("type")
            if type(tag) is str and tag in _TOOL_TYPES:  # any JSON may arrive here, lists too
                role = TOOL
            rest = None
            for key, value in node.items():
                if key in _SKIP_KEYS:
                    continue
                child_role = SYSTEM if key in _SYSTEM_KEYS else TOOL if key in _TOOL_KEYS else role
                if rest is not None:
                    rest.append((value, child_role))
                elif type(value) is str:
                    if value:
                        parts.append(value)
                        roles.append(child_role)
                elif type(value) in _CONTAINERS:
                    rest = [(value, child_role)]
            if rest:
                rest.reverse()
                stack.extend(rest)
        elif kind is list:
            for i, item in enumerate(node):
                if type(item) is str:
                    if item:
                        parts.append(item)
                        roles.append(role)
                elif type(item) in _CONTAINERS:
                    stack.extend([(x, role) for x in reversed(node[i:])])
                    break
        elif kind is str and node:
            parts.append(node)
            roles.append(role)
    segments: list[tuple[int, int]] = []
    offset, last = 0, None
    for part, role in zip(parts, roles):
        if role != last:
            segments.append((offset, role))
            last = role
        offset += len(part) + 1
    return "\n".join(parts), segments or [(0, USER)]


def _role_at(segments: list[tuple[int, int]], starts: list[int], position: int) -> int:
    return segments[bisect.bisect_right(starts, position) - 1][1]


# ---------------------------------------------------------------- scanning

_DIGIT_SHAPE = bytes.maketrans(b"0123456789", b"dddddddddd")


def facts_of(text: str) -> Facts:
    raw = text.encode("utf-8", "surrogatepass")
    shape = raw.translate(_DIGIT_SHAPE)
    # The "d"s of the shape less those of the text are its digits: two C passes, not ten.
    return Facts(text=text, lowered=text.lower(), digits=shape.count(b"d") - raw.count(b"d"), ascii=text.isascii(),
                 shape=shape)


def _run(detector: Detector, facts: Facts) -> list[Match]:
    text = facts.text
    # Lowercasing keeps positions unless the text holds one of the few letters that lowercase to two.
    source = facts.lowered if detector.lowered else text
    same_positions = len(facts.lowered) == len(text)
    found = []
    for validated, m in enumerate(detector.pattern.finditer(source)):
        if validated >= detector.max_validations:
            break
        confidence = detector.validate(m)
        if not confidence:
            continue
        start, end = m.start(), m.end()
        if detector.kind == "pii.email":
            start = _email_start(text, start)
        value = text[start:end] if (same_positions or not detector.lowered) else m.group()
        found.append(Match(detector.kind, start, end, value, detector.mask(value), confidence))
    return found


def _email_start(text: str, at: int) -> int:
    start = at
    while start > 0 and at - start < 64 and (text[start - 1].isascii() and (text[start - 1].isalnum()
                                                                         or text[start - 1] in "._%+-")):
        start -= 1
    return start


def _instruction_matches(text: str) -> list[Match]:
    facts = facts_of(text)
    found = []
    for detector in DETECTORS:
        if detector.kind in _INSTRUCTION_KINDS and detector.possible(facts):
            found.extend(_run(detector, facts))
    return found


_TOOL_DIRECTIVE = Detector("injection.tool_output", TOOL_DIRECTIVE, _always_possible := (lambda f: True),
                           _always(0.75), _phrase, True, True)


def _hidden(text: str, facts: Facts) -> list[Match]:
    """Instructions a reader cannot see: in tag characters, behind zero-width ones, or in base64."""
    found = []
    if not facts.ascii:
        for m in TAG_CHARS.finditer(text):
            decoded = "".join(chr(ord(c) - 0xE0000) for c in m.group())
            found.append(Match("injection.hidden_instructions", m.start(), m.end(), decoded,
                               _phrase("tag characters: " + decoded), 0.95))
        # An instruction broken up by invisible characters lies around them: read
        # a window around each (a bounded number), without them.
        for i, m in enumerate(HIDDEN_IN_WORD.finditer(text)):
            if i >= MAX_VALIDATIONS // 4:
                break
            start = max(0, m.start() - 80)
            window = text[start:m.end() + 80]
            visible = HIDDEN_CHARS.sub("", window)
            hidden = [x for x in _instruction_matches(visible) if x.value not in window]
            if hidden:
                first = hidden[0]
                found.append(Match("injection.hidden_instructions", m.start(), m.end(), first.value,
                                   _phrase("zero-width characters: " + first.value), 0.9))
                break
    if "+" in text or "/" in text or facts.digits:
        for i, m in enumerate(BASE64.finditer(text)):
            if i >= MAX_VALIDATIONS:
                break
            decoded = _decode_text(m.group())
            if decoded:
                inner = _instruction_matches(decoded)
                if inner:
                    found.append(Match("injection.hidden_instructions", m.start(), m.end(), inner[0].value,
                                       _phrase("base64: " + inner[0].value), 0.9))
    return found


def _decode_text(block: str) -> str:
    try:
        raw = base64.b64decode(block + "=" * (-len(block) % 4), validate=True)
        text = raw.decode("utf-8")
    except (binascii.Error, ValueError):
        return ""
    printable = sum(c.isprintable() or c.isspace() for c in text)
    return text if text and printable >= 0.95 * len(text) else ""


def find(body: str, *, prefilter: bool = True) -> tuple[str, list[Match]]:
    """Every finding in a body, with positions in the returned text (the body as read_body reads it)."""
    if not body:
        return "", []
    text, segments = read_body(body[:SCAN_WINDOW])
    facts = facts_of(text)
    starts = [s for s, _ in segments]
    found: list[Match] = []
    for detector in _possible(facts) if prefilter else DETECTORS:
        for match in _run(detector, facts):
            role = _role_at(segments, starts, match.start)
            if detector.injection and role == SYSTEM:
                continue
            found.append(match)
            if detector.injection and role == TOOL:
                found.append(Match("injection.tool_output", match.start, match.end, match.value, match.snippet,
                                   match.confidence))
    if any(role == TOOL for _, role in segments):
        for match in _run(_TOOL_DIRECTIVE, facts):
            if _role_at(segments, starts, match.start) == TOOL:
                found.append(match)
    found.extend(m for m in _hidden(text, facts) if _role_at(segments, starts, m.start) != SYSTEM)
    return text, found


def find_in_text(text: str) -> list[Match]:
    """Findings in one plain string (a message's content), with positions in it."""
    if not text:
        return []
    facts = facts_of(text[:SCAN_WINDOW])
    found: list[Match] = []
    for detector in _possible(facts):
        found.extend(_run(detector, facts))
    return found


def summarize(found: list[Match]) -> list[dict]:
    """One finding per type: its count, its first masked snippet with position, its best confidence."""
    by_kind: dict[str, dict] = {}
    for m in found:
        entry = by_kind.get(m.kind)
        if entry is None:
            by_kind[m.kind] = {"type": m.kind, "count": 1, "snippet": m.snippet, "start": m.start, "end": m.end,
                               "confidence": m.confidence}
        else:
            entry["count"] += 1
            entry["confidence"] = max(entry["confidence"], m.confidence)
    return list(by_kind.values())


def scan(body: str, *, prefilter: bool = True) -> str:
    """The flags column: a JSON array like [{"type": "pii.email", "count": 2, "snippet": "j***@example.com", ...}]."""
    if not body:
        return "[]"
    return orjson.dumps(summarize(find(body, prefilter=prefilter)[1])).decode()
