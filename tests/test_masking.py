"""Personal data masked out of exports, on Korean examples."""

from __future__ import annotations

import pytest

from chatbot.masking import CARD, EMAIL, PHONE, RRN, mask_personal_data


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("연락처는 kim.minsu+test@example.co.kr 입니다", f"연락처는 {EMAIL} 입니다"),
        ("제 번호는 010-1234-5678이에요", f"제 번호는 {PHONE}이에요"),
        ("01012345678로 문자 주세요", f"{PHONE}로 문자 주세요"),
        ("010 1234 5678, 010.9876.5432", f"{PHONE}, {PHONE}"),
        ("+82 10-1234-5678 (해외)", f"{PHONE} (해외)"),
        ("+821012345678", PHONE),
        ("사무실 02-123-4567, 지점 031-1234-5678", f"사무실 {PHONE}, 지점 {PHONE}"),
        ("인터넷전화 070-1234-5678", f"인터넷전화 {PHONE}"),
        ("주민번호 900101-1234567 입니다", f"주민번호 {RRN} 입니다"),
        ("주민등록번호: 0203154123456", f"주민등록번호: {RRN}"),
        ("카드 4111 1111 1111 1111 결제", f"카드 {CARD} 결제"),
        ("카드번호 5500-0000-0000-0004", f"카드번호 {CARD}"),
        ("4111111111111111", CARD),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert mask_personal_data(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "주문번호 2023120518260001",  # 16 digits that fail the Luhn check
        "금액은 1,400,000원입니다",
        "2023-12-05 18:26에 만나요",
        "대표번호 1588-1234",  # a company's, not a person's
        "991332-1234567",  # month 13: not a registration number
        "버전 10.12.3456",
        "우편번호 04524",
        "계좌 110-123-456789",  # a bank account is not a phone
    ],
)
def test_numbers_that_are_not_personal_data_stay(text: str) -> None:
    assert mask_personal_data(text) == text


def test_a_whole_dialog_keeps_its_words_around_the_labels() -> None:
    text = "김민수(kim@example.com, 010-1234-5678)의 카드 4111-1111-1111-1111을 확인했습니다."
    assert mask_personal_data(text) == f"김민수({EMAIL}, {PHONE})의 카드 {CARD}을 확인했습니다."
