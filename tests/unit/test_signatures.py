import pytest

from webhooks.signatures import SignatureError, sign, token_matches, verify_signature

# Atlassian's published test vector for X-Hub-Signature.
VECTOR_SECRET = "It's a Secret to Everybody"
VECTOR_BODY = b"Hello World!"
VECTOR_SIGNATURE = "sha256=a4771c39fbe90f317c7824e83ddef3caae9cb3d976c214ace1f2937e133263c9"


def test_published_vector():
    assert sign(VECTOR_BODY, VECTOR_SECRET) == VECTOR_SIGNATURE
    verify_signature(VECTOR_BODY, VECTOR_SIGNATURE, VECTOR_SECRET)


def test_method_prefix_and_hex_case_are_tolerated():
    verify_signature(VECTOR_BODY, "SHA256=" + VECTOR_SIGNATURE.split("=")[1].upper(), VECTOR_SECRET)


@pytest.mark.parametrize("header, message", [
    (None, "missing"),
    ("", "missing"),
    ("a4771c39", "malformed"),
    ("sha256=", "malformed"),
    ("md5=abc", "unsupported signature method"),
    ("sha256=" + "0" * 64, "does not match"),
])
def test_rejections(header, message):
    with pytest.raises(SignatureError, match=message):
        verify_signature(VECTOR_BODY, header, VECTOR_SECRET)


def test_body_tampering_is_detected():
    with pytest.raises(SignatureError):
        verify_signature(VECTOR_BODY + b" ", VECTOR_SIGNATURE, VECTOR_SECRET)


def test_tokens():
    assert token_matches("s3cret", "s3cret")
    assert not token_matches("s3cre", "s3cret")
    assert not token_matches("", "s3cret")
    assert not token_matches(None, "s3cret")
    assert not token_matches("anything", "")  # no configured token accepts nothing
