"""Subscription forms are checked with messages a clerk can act on; unsubscribe links cannot be forged."""

from __future__ import annotations

import pytest

from service.digest.subscriptions import SubscriptionError, validate
from service.digest.tokens import make_token, token_matches, token_subscription_id


@pytest.mark.parametrize(
    ("payload", "field", "words"),
    [
        ({"topics": ["思想建设"]}, "email", "邮箱"),
        ({"email": "not-an-address"}, "email", "格式不正确"),
        ({"email": "a@b.cn", "webhook_url": "http://x.test/h"}, "email", "只能填写一个"),
        ({"webhook_url": "ftp://x.test"}, "webhook_url", "http://"),
        ({"email": "a@b.cn", "topics": ["党建"]}, "topics", "未知主题“党建”"),
        ({"email": "a@b.cn", "frequency": "monthly"}, "frequency", "daily（每日）或 weekly（每周）"),
        ({"email": "a@b.cn", "send_at": "8点半"}, "send_at", "08:30"),
        ({"email": "a@b.cn", "weekday": 9}, "weekday", "周一"),
        ({"email": "a@b.cn", "tags": "学习制度", "colour": "red"}, "colour", "无法识别的字段"),
    ],
)
def test_invalid_subscriptions_are_refused_in_chinese(payload, field, words):
    with pytest.raises(SubscriptionError) as err:
        validate(payload)
    assert err.value.field == field
    assert words in err.value.message


def test_a_valid_subscription_is_normalised():
    values = validate({"email": " staff@unit.test ", "topics": ["思想建设", "思想建设"], "tags": "学习制度，党课",
                       "orgs": ["市政府办", "市编委办"], "send_at": "8:05"})
    assert values["email"] == "staff@unit.test"
    assert values["topics"] == ["思想建设"] and values["tags"] == ["学习制度", "党课"]
    assert values["send_at"] == "08:05" and values["frequency"] == "weekly"
    assert values["orgs"] == ["市政府办公室", "市委编办"]  # as mining names them


def test_unsubscribe_tokens_are_signed_and_bound_to_the_subscriptions_secret():
    token = make_token(42, "own-secret", "key")
    assert token_subscription_id(token) == 42
    assert token_matches(token, 42, "own-secret", "key")
    assert not token_matches(token, 42, "own-secret", "another-key")
    # The same id with another subscription's secret (an id handed out again) does not match.
    assert not token_matches(token, 42, "newer-secret", "key")
    assert not token_matches(token.replace("42.", "43."), 43, "own-secret", "key")
    assert token_subscription_id("") is None and token_subscription_id("42") is None
    assert token_subscription_id("9" * 5000 + ".abc") is None
