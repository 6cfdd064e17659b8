"""kettle.auth.totp: HOTP/TOTP against the RFCs' test vectors, verification
(window, replays, malformed input), provisioning URIs and recovery codes."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import unquote
from urllib.parse import urlsplit

import pytest

from kettle.auth import totp as totp_module
from kettle.auth.totp import RECOVERY_CODE_ALPHABET
from kettle.auth.totp import hash_recovery_code
from kettle.auth.totp import hotp
from kettle.auth.totp import match_recovery_code
from kettle.auth.totp import new_recovery_codes
from kettle.auth.totp import new_secret
from kettle.auth.totp import provisioning_uri
from kettle.auth.totp import totp
from kettle.auth.totp import verify


def count_calls(monkeypatch: pytest.MonkeyPatch, name: str) -> list[tuple[Any, ...]]:
    """Record the arguments of every call of the module's function ``name``."""
    calls: list[tuple[Any, ...]] = []
    real = getattr(totp_module, name)

    def recording(*args: Any) -> Any:
        calls.append(args)
        return real(*args)

    monkeypatch.setattr(totp_module, name, recording)
    return calls


def b32(seed: bytes) -> str:
    return base64.b32encode(seed).decode("ascii").rstrip("=")


# RFC 4226 Appendix D and RFC 6238 Appendix B: ASCII seeds of 20, 32 and 64 bytes.
SHA1_SECRET = b32(b"12345678901234567890")
SHA256_SECRET = b32(b"12345678901234567890123456789012")
SHA512_SECRET = b32(b"1234567890" * 6 + b"1234")

# RFC 4226 Appendix D: HOTP, counters 0 to 9.
RFC4226_HOTP = [
    "755224",
    "287082",
    "359152",
    "969429",
    "338314",
    "254676",
    "287922",
    "162583",
    "399871",
    "520489",
]

# RFC 6238 Appendix B: time, then the 8-digit TOTP of SHA1, SHA256, SHA512.
RFC6238_TOTP = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]

NOW = 1_700_000_000.0  # 20 seconds into its 30-second step
STEP = int(NOW // 30)


# -- RFC vectors ----------------------------------------------------------------------


@pytest.mark.parametrize(("counter", "expected"), list(enumerate(RFC4226_HOTP)))
def test_hotp_rfc4226_appendix_d(counter: int, expected: str) -> None:
    assert hotp(SHA1_SECRET, counter) == expected


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238_TOTP)
def test_totp_rfc6238_appendix_b(at: int, sha1: str, sha256: str, sha512: str) -> None:
    assert totp(SHA1_SECRET, at=at, digits=8) == sha1
    assert totp(SHA256_SECRET, at=at, digits=8, algorithm="sha256") == sha256
    assert totp(SHA512_SECRET, at=at, digits=8, algorithm="SHA512") == sha512


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238_TOTP)
def test_verify_rfc6238_appendix_b(
    at: int, sha1: str, sha256: str, sha512: str
) -> None:
    step = at // 30
    assert verify(SHA1_SECRET, sha1, at=at, digits=8) == step
    assert verify(SHA256_SECRET, sha256, at=at, digits=8, algorithm="sha256") == step
    assert verify(SHA512_SECRET, sha512, at=at, digits=8, algorithm="sha512") == step


def test_totp_is_hotp_of_the_time_step() -> None:
    assert totp(SHA1_SECRET, at=59) == hotp(SHA1_SECRET, 1)
    assert totp(SHA1_SECRET, at=60) == hotp(SHA1_SECRET, 2)
    assert totp(SHA1_SECRET, at=59, step=60) == hotp(SHA1_SECRET, 0)
    assert totp(SHA1_SECRET, at=NOW) == hotp(SHA1_SECRET, STEP)
    assert totp(SHA1_SECRET, at=NOW + 0.5) == hotp(SHA1_SECRET, STEP)


def test_totp_defaults_to_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("kettle.auth.totp.time.time", lambda: NOW)
    assert totp(SHA1_SECRET) == hotp(SHA1_SECRET, STEP)
    assert verify(SHA1_SECRET, hotp(SHA1_SECRET, STEP)) == STEP


def test_leading_zeros_are_kept() -> None:
    assert totp(SHA1_SECRET, at=1111111109, digits=8) == "07081804"
    assert len(hotp(SHA1_SECRET, 0, digits=7)) == 7


def test_secret_forms_are_equivalent() -> None:
    padded = base64.b32encode(b"12345678901234567890").decode()
    spaced = " ".join(SHA1_SECRET.lower()[i : i + 4] for i in range(0, 32, 4))
    for form in (padded, spaced, SHA1_SECRET.lower()):
        assert hotp(form, 0) == "755224"
    # A secret that needs padding (11 bytes: 18 characters, then 6 "="), with
    # and without it.
    padded = base64.b32encode(b"01234567890").decode()
    assert padded.endswith("======")
    assert hotp(padded, 0) == hotp(padded.rstrip("="), 0)


@pytest.mark.parametrize(
    "secret", ["", "   ", "not base32!", "A", "ABC", "ÄBCDEFGH", "1"]
)
def test_bad_secret(secret: str) -> None:
    with pytest.raises(ValueError):
        hotp(secret, 0)
    with pytest.raises(ValueError):
        verify(secret, "123456", at=NOW)


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="digits"):
        hotp(SHA1_SECRET, 0, digits=5)
    with pytest.raises(ValueError, match="digits"):
        totp(SHA1_SECRET, at=NOW, digits=9)
    with pytest.raises(ValueError, match="algorithm"):
        hotp(SHA1_SECRET, 0, algorithm="md5")
    with pytest.raises(ValueError, match="counter"):
        hotp(SHA1_SECRET, -1)
    with pytest.raises(ValueError, match="counter"):
        hotp(SHA1_SECRET, 2**64)
    assert len(hotp(SHA1_SECRET, 2**64 - 1)) == 6
    with pytest.raises(ValueError, match="step"):
        totp(SHA1_SECRET, at=NOW, step=0)
    for at in (-1.0, float("nan"), float("inf"), 1e300):
        with pytest.raises(ValueError, match="at "):
            totp(SHA1_SECRET, at=at)
    with pytest.raises(ValueError, match="window"):
        verify(SHA1_SECRET, "123456", at=NOW, window=-1)


def test_new_secret() -> None:
    secrets_ = {new_secret() for _ in range(20)}
    assert len(secrets_) == 20
    for secret in secrets_:
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert len(base64.b32decode(secret)) == 20  # 160 bits
        assert len(totp(secret, at=NOW)) == 6


# -- verify ---------------------------------------------------------------------------


def code_at(offset: int) -> str:
    return hotp(SHA1_SECRET, STEP + offset)


@pytest.mark.parametrize("offset", [-1, 0, 1])
def test_window_accepts_one_step_either_side(offset: int) -> None:
    assert verify(SHA1_SECRET, code_at(offset), at=NOW) == STEP + offset


@pytest.mark.parametrize("offset", [-3, -2, 2, 3])
def test_window_refuses_two_steps_away(offset: int) -> None:
    assert code_at(offset) not in {code_at(-1), code_at(0), code_at(1)}
    assert verify(SHA1_SECRET, code_at(offset), at=NOW) is None


def test_window_size() -> None:
    assert verify(SHA1_SECRET, code_at(-1), at=NOW, window=0) is None
    assert verify(SHA1_SECRET, code_at(0), at=NOW, window=0) == STEP
    assert verify(SHA1_SECRET, code_at(2), at=NOW, window=2) == STEP + 2
    assert verify(SHA1_SECRET, code_at(-2), at=NOW, window=2) == STEP - 2


def test_window_at_the_epoch() -> None:
    # Steps before 0 do not exist: they are skipped, not an error.
    assert verify(SHA1_SECRET, hotp(SHA1_SECRET, 0), at=0) == 0
    assert verify(SHA1_SECRET, hotp(SHA1_SECRET, 1), at=0) == 1


def test_replay_is_refused() -> None:
    code = code_at(0)
    used = verify(SHA1_SECRET, code, at=NOW)
    assert used == STEP
    # The same code again, even seconds later, within its own step.
    assert verify(SHA1_SECRET, code, at=NOW + 5, last_used_step=used) is None
    # An earlier code that the window would otherwise accept.
    assert verify(SHA1_SECRET, code_at(-1), at=NOW, last_used_step=used) is None
    # The next code is fine.
    assert verify(SHA1_SECRET, code_at(1), at=NOW, last_used_step=used) == STEP + 1
    assert verify(SHA1_SECRET, code_at(1), at=NOW + 30, last_used_step=used) == (
        STEP + 1
    )
    # A last step ahead of the clock (a code from the future was used) refuses all.
    assert verify(SHA1_SECRET, code_at(1), at=NOW, last_used_step=STEP + 1) is None


@pytest.mark.parametrize("form", ["{0} {1}", "{0}-{1}", " {0}  {1} ", "{0}\t{1}\n"])
def test_spaces_and_dashes_are_ignored(form: str) -> None:
    code = code_at(0)
    assert verify(SHA1_SECRET, form.format(code[:3], code[3:]), at=NOW) == STEP


@pytest.mark.parametrize(
    "code",
    [
        "",
        "12345",
        "1234567",
        "12345a",
        "abcdef",
        "+12345",
        "12.345",
        "١٢٣٤٥٦",  # Arabic-Indic digits: str.isdigit() says True
        "１２３４５６",  # fullwidth digits
        "123456" * 100,
        "1" * 10_000,
    ],
)
def test_malformed_codes_are_refused(
    code: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = count_calls(monkeypatch, "_hotp")
    assert verify(SHA1_SECRET, code, at=NOW) is None
    assert calls == []  # refused before any code was computed


def test_every_step_of_the_window_is_computed(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = [code_at(-1), code_at(0), code_at(1), "000000"]
    calls = count_calls(monkeypatch, "_hotp")
    for code in codes:
        calls.clear()
        verify(SHA1_SECRET, code, at=NOW, window=2)
        counters = [counter for _, counter, _, _ in calls]
        assert counters == [STEP - 2, STEP - 1, STEP, STEP + 1, STEP + 2]
    # Steps already used are computed too.
    calls.clear()
    assert verify(SHA1_SECRET, codes[1], at=NOW, last_used_step=STEP) is None
    assert [counter for _, counter, _, _ in calls] == [STEP - 1, STEP, STEP + 1]


def test_verify_other_lengths_and_algorithms() -> None:
    code = hotp(SHA256_SECRET, STEP, digits=8, algorithm="sha256")
    assert verify(SHA256_SECRET, code, at=NOW, digits=8, algorithm="sha256") == STEP
    assert verify(SHA256_SECRET, code, at=NOW, digits=8) is None  # SHA-1
    assert verify(SHA256_SECRET, code[:6], at=NOW, algorithm="sha256") is None
    assert verify(SHA1_SECRET, totp(SHA1_SECRET, at=NOW, step=60), at=NOW, step=60) == (
        int(NOW // 60)
    )


# -- provisioning URI -----------------------------------------------------------------


def parse_uri(uri: str) -> tuple[str, str, dict[str, str]]:
    """The issuer and account of the label, and the parameters, as an app reads
    them."""
    parts = urlsplit(uri)
    assert parts.scheme == "otpauth"
    assert parts.netloc == "totp"
    issuer, sep, account = unquote(parts.path[1:]).partition(":")
    assert sep == ":"
    query = parse_qs(parts.query, strict_parsing=True)
    assert all(len(values) == 1 for values in query.values())
    return issuer, account, {key: values[0] for key, values in query.items()}


def test_provisioning_uri() -> None:
    secret = new_secret()
    uri = provisioning_uri(secret, "alice@example.com", "Kettle")
    assert uri == (
        f"otpauth://totp/Kettle:alice@example.com?secret={secret}"
        "&issuer=Kettle&algorithm=SHA1&digits=6&period=30"
    )


@pytest.mark.parametrize(
    ("account", "issuer"),
    [
        ("alice@example.com", "Kettle"),
        ("Alice Smith", "Acme Corp"),
        ("jürgen@bücher.example", "Bücher & Co"),
        ("李小龙", "公司"),
        ("a:b@c", "x"),  # a colon in the account name: percent-encoded
        ("100% sure?#/&=+", "Q&A / 50%+"),
        ("☕ emoji", "Tea ☕"),
    ],
)
def test_provisioning_uri_round_trip(account: str, issuer: str) -> None:
    uri = provisioning_uri(SHA1_SECRET, account, issuer)
    assert uri.isascii()
    assert " " not in uri
    assert "+" not in uri.partition("?")[0]
    label = urlsplit(uri).path[1:]
    assert label.count(":") == 1  # the separator only
    got_issuer, got_account, params = parse_uri(uri)
    assert (got_issuer, got_account) == (issuer, account)
    assert params == {
        "secret": SHA1_SECRET,
        "issuer": issuer,
        "algorithm": "SHA1",
        "digits": "6",
        "period": "30",
    }
    assert "%20" in uri or " " not in account + issuer  # spaces are %20, not +
    assert totp(params["secret"], at=NOW) == totp(SHA1_SECRET, at=NOW)


def test_provisioning_uri_options_and_secret_form() -> None:
    secret = b32(b"12345678901234567890123456789012")
    spaced = " ".join(secret.lower()[i : i + 4] for i in range(0, len(secret), 4))
    uri = provisioning_uri(
        spaced + "====", "bob", "Kettle", digits=8, algorithm="sha256", step=60
    )
    _, _, params = parse_uri(uri)
    assert params == {
        "secret": secret,
        "issuer": "Kettle",
        "algorithm": "SHA256",
        "digits": "8",
        "period": "60",
    }


@pytest.mark.parametrize(
    ("secret", "account", "issuer", "kwargs", "message"),
    [
        (SHA1_SECRET, "alice", "Acme: Internal", {}, "colon"),
        (SHA1_SECRET, "alice", ":", {}, "colon"),
        (SHA1_SECRET, "alice", "", {}, "issuer"),
        (SHA1_SECRET, "", "Kettle", {}, "account"),
        ("not base32!", "alice", "Kettle", {}, "base32"),
        (SHA1_SECRET, "alice", "Kettle", {"digits": 4}, "digits"),
        (SHA1_SECRET, "alice", "Kettle", {"algorithm": "md5"}, "algorithm"),
        (SHA1_SECRET, "alice", "Kettle", {"step": 0}, "step"),
    ],
)
def test_provisioning_uri_refuses(
    secret: str, account: str, issuer: str, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        provisioning_uri(secret, account, issuer, **kwargs)  # type: ignore[arg-type]


def test_no_qr_code_function() -> None:
    # Neither segno nor qrcode is a dependency: no QR rendering here.
    assert not hasattr(totp_module, "qr_svg")


# -- recovery codes -------------------------------------------------------------------


def test_recovery_codes_form() -> None:
    codes = new_recovery_codes()
    assert len(codes) == 10
    assert len(set(codes)) == 10
    pattern = f"[{RECOVERY_CODE_ALPHABET}]{{4}}(-[{RECOVERY_CODE_ALPHABET}]{{4}}){{2}}"
    for code in codes:
        assert re.fullmatch(pattern, code), code
    assert len(new_recovery_codes(3)) == 3
    with pytest.raises(ValueError, match="count"):
        new_recovery_codes(0)


def test_recovery_alphabet_is_unambiguous_and_strong() -> None:
    import math

    assert len(set(RECOVERY_CODE_ALPHABET)) == len(RECOVERY_CODE_ALPHABET) == 31
    assert not set("01ilo") & set(RECOVERY_CODE_ALPHABET)
    assert RECOVERY_CODE_ALPHABET == RECOVERY_CODE_ALPHABET.lower()
    assert 12 * math.log2(len(RECOVERY_CODE_ALPHABET)) >= 50


def test_recovery_codes_are_unique_across_calls() -> None:
    codes = [code for _ in range(50) for code in new_recovery_codes()]
    assert len(set(codes)) == len(codes)


def test_recovery_hash_form() -> None:
    code = new_recovery_codes(1)[0]
    stored = hash_recovery_code(code)
    assert re.fullmatch(r"sha256\$[0-9a-f]{32}\$[0-9a-f]{64}", stored)
    assert len(stored) == 104
    assert code.replace("-", "") not in stored
    # Salted: the same code hashes differently each time, and both match.
    again = hash_recovery_code(code)
    assert again != stored
    assert match_recovery_code(code, [stored]) == stored
    assert match_recovery_code(code, [again]) == again


def test_recovery_code_normalisation() -> None:
    code = "k7f3-9xq2-mw4p"
    stored = hash_recovery_code(code)
    for typed in (
        "k7f3-9xq2-mw4p",
        "K7F3-9XQ2-MW4P",
        "k7f39xq2mw4p",
        "k7f3 9xq2 mw4p",
        " k7f3-9xq2-mw4p\n",
        "k7-f39-xq2-mw4p",
    ):
        assert match_recovery_code(typed, [stored]) == stored, typed
    # Normalised before hashing too.
    other = hash_recovery_code("K7F3 9XQ2 MW4P")
    assert match_recovery_code(code, [other]) == other


@pytest.mark.parametrize(
    "code", ["", "k7f3-9xq2", "k7f3-9xq2-mw4p-aaaa", "k7f3-9xq2-mw40", "k7f3-9xq2-mw4ö"]
)
def test_recovery_hash_refuses_non_codes(code: str) -> None:
    with pytest.raises(ValueError, match="recovery code"):
        hash_recovery_code(code)


def test_recovery_codes_are_single_use() -> None:
    codes = new_recovery_codes()
    stored = [hash_recovery_code(code) for code in codes]
    used = codes[3]
    matched = match_recovery_code(used, stored)
    assert matched == stored[3]
    stored.remove(matched)  # what the caller does
    assert match_recovery_code(used, stored) is None
    # The others still work, each matching its own hash.
    for code, expected in zip(codes[:3] + codes[4:], stored, strict=True):
        assert match_recovery_code(code, stored) == expected


def test_match_recovery_code_refuses(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = new_recovery_codes(2)
    stored = [hash_recovery_code(codes[0])]
    assert match_recovery_code(codes[1], stored) is None
    assert match_recovery_code(codes[0], []) is None
    assert match_recovery_code(codes[0], iter(stored)) == stored[0]  # any iterable
    # Malformed stored values are skipped, not an error.
    junk = ["", "sha256$$", "sha256$zz$00", "md5$00$" + "0" * 64, "sha256$00$00", "é$"]
    assert match_recovery_code(codes[0], [*junk, *stored]) == stored[0]
    # Input that is not a recovery code is refused without hashing.
    calls = count_calls(monkeypatch, "_recovery_digest")
    for typed in ("", "123456", "x" * 10_000, codes[0] + "a", "k7f3-9xq2-mw41"):
        assert match_recovery_code(typed, stored) is None
    assert calls == []


def test_match_recovery_code_checks_every_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    codes = new_recovery_codes()
    stored = [hash_recovery_code(code) for code in codes]
    calls = count_calls(monkeypatch, "_recovery_digest")
    assert match_recovery_code(codes[0], stored) == stored[0]
    assert len(calls) == len(stored)  # no early exit
