"""Validation of proofmark records: the rules and reason codes of SPEC.md sections 2.2 to 2.4.

`validate(kind, record, batch_day, duplicate)` returns every defect of a record as
`(column, reason)` pairs in the order of section 8.5 (the column's position in the kind's
schema, then the reason's row in the table of 2.4); an empty list means the record is accepted.
Records are the JSON-style dicts of `proofmark_spec` (section 10 form).

Dependencies: Python 3.11 standard library and `proofmark_spec` (so the PyPI package `blake3`).
"""

from __future__ import annotations

import datetime
import re
from typing import Any, NamedTuple

import proofmark_spec as pm

#: The reason codes, in the order of the table of section 2.4.
REASONS: tuple[str, ...] = (
    "missing_value", "no_subject", "malformed_code", "malformed_lot_id", "malformed_identifier",
    "bad_gtin", "bad_country", "malformed_hs_code", "malformed_digest", "unknown_enum_value",
    "too_long", "too_many_items", "null_list_item", "negative_value", "time_out_of_range",
    "expiry_before_production", "cleared_before_declared", "duplicate_record_id",
)

#: Appendix A: the ISO 3166-1 alpha-2 codes that the country rule accepts.
COUNTRIES = frozenset("""
AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE
EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM
HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC
LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA
NC NE NF NG NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW
SA SB SC SD SE SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO
TR TT TV TW TZ UA UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
""".split())
assert len(COUNTRIES) == 249

US_PER_DAY = 86_400_000_000

# The rules of section 2.3, by name. Text rules that include the length (code, lot id, GTIN,
# country, HS code, digest) give their own reason for an over-long value; the other text
# columns (identifier, enum, free text) give `too_long` and are not checked further.
CODE, LOT_ID, IDENTIFIER, GTIN, COUNTRY, HS_CODE, DIGEST = (
    "code", "lot id", "identifier", "GTIN", "country", "HS code", "digest")
ENUM, TIME_RANGE, DATE_RANGE, NOT_NEGATIVE, ITEMS = (
    "enum", "time range", "date range", "not negative", "items")

_CODE = re.compile(r"[0-9A-Za-z._-]{6,48}")
_LOT_ID = re.compile(r"[0-9A-Za-z._-]{1,64}")
_IDENTIFIER = re.compile(r"[\x21-\x7e]+")
_HS_CODE = re.compile(r"[0-9]{6,10}")
_DIGEST = re.compile(r"(sha256|blake3):[0-9a-f]{64}")
_DIGITS = re.compile(r"[0-9]+")


def is_gtin(value: str) -> bool:
    """GTIN: 8, 12, 13 or 14 ASCII digits, the last the GS1 check digit of the others."""
    if len(value) not in (8, 12, 13, 14) or not _DIGITS.fullmatch(value):
        return False
    digits = [int(c) for c in value]
    total = sum(d * (3 if k % 2 == 0 else 1) for k, d in enumerate(reversed(digits[:-1])))
    return (10 - total % 10) % 10 == digits[-1]


#: Text rules that include the length: rule -> (test, reason).
_TEXT_RULES = {
    CODE: (_CODE.fullmatch, "malformed_code"),
    LOT_ID: (_LOT_ID.fullmatch, "malformed_lot_id"),
    GTIN: (is_gtin, "bad_gtin"),
    COUNTRY: (COUNTRIES.__contains__, "bad_country"),
    HS_CODE: (_HS_CODE.fullmatch, "malformed_hs_code"),
    DIGEST: (_DIGEST.fullmatch, "malformed_digest"),
}


class Column(NamedTuple):
    """One column of a kind (section 2.2) with what validation needs of it."""
    name: str
    type: str                    # a column type of proofmark_spec (section 2.1)
    nullable: bool
    limit: int | None            # text: bytes; list: items
    rule: str | None             # one of the rule names above
    values: frozenset[str] = frozenset()  # ENUM: the closed set
    item_limit: int | None = None          # ITEMS: bytes of a text item or of an attachment uri


# Section 2.2, the "nullable", "limit" and "rule" columns of each table (names and types come
# from proofmark_spec.KINDS).
_COMMON = {
    "record_id": (False, 64, IDENTIFIER),
    "code": (True, 48, CODE),
    "lot_id": (True, 64, LOT_ID),
    "org_id": (False, 64, IDENTIFIER),
    "event_time": (False, None, TIME_RANGE),
}
_RULES: dict[str, dict[str, tuple]] = {
    "production": {
        "gtin": (False, None, GTIN),
        "product_name": (False, 256, None),
        "brand": (False, 128, None),
        "sku": (False, 64, IDENTIFIER),
        "lot_number": (False, 64, IDENTIFIER),
        "production_date": (False, None, DATE_RANGE),
        "expiry_date": (True, None, None),
        "origin_country": (False, None, COUNTRY),
        "factory_id": (False, 64, IDENTIFIER),
        "factory_name": (True, 256, None),
        "factory_address": (True, 512, None),
        "certifications": (True, 32, ITEMS, frozenset(), 256),
        "ingredients": (True, 2048, None),
        "attachments": (True, 16, ITEMS, frozenset(), 512),
    },
    "customs": {
        "declaration_id": (False, 64, IDENTIFIER),
        "filing_id": (True, 64, IDENTIFIER),
        "hs_code": (False, None, HS_CODE),
        "origin_country": (False, None, COUNTRY),
        "trade_country": (True, None, COUNTRY),
        "port_of_entry": (False, 128, None),
        "declared_at": (False, None, TIME_RANGE),
        "cleared_at": (True, None, TIME_RANGE),
        "status": (False, 32, ENUM, frozenset({
            "declared", "inspecting", "released", "held", "rejected"})),
    },
    "logistics": {
        "event_type": (False, 32, ENUM, frozenset({
            "departed", "arrived", "customs_released", "warehoused", "labelled", "shipped",
            "delivered", "returned", "recalled", "destroyed"})),
        "location": (False, 256, None),
        "carrier": (True, 128, None),
        "waybill": (True, 64, IDENTIFIER),
    },
    "inspection": {
        "agency_id": (False, 64, IDENTIFIER),
        "agency_name": (False, 256, None),
        "inspection_type": (False, 32, ENUM, frozenset({
            "loading_supervision", "factory_audit", "circulation_sampling", "ingredient_test",
            "label_check", "quarantine"})),
        "result": (False, 16, ENUM, frozenset({"pass", "fail", "conditional"})),
        "report_id": (False, 64, IDENTIFIER),
        "report_digest": (True, None, DIGEST),
        "sample_size": (True, None, NOT_NEGATIVE),
    },
}

#: kind -> its columns in schema order, with their validation rules.
COLUMNS: dict[str, tuple[Column, ...]] = {
    kind: tuple(Column(name, ctype, *(_COMMON | _RULES[kind])[name])
                for name, ctype in columns)
    for kind, (_, columns) in pm.KINDS.items()
}
assert all(len(COLUMNS[k]) == len(_COMMON) + len(_RULES[k]) for k in pm.KINDS)


def batch_day(date: str) -> int:
    """The batch date `YYYY-MM-DD` as days since 1970-01-01 (the `D` of section 2.3)."""
    if not re.fullmatch(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", date):
        raise ValueError(f"batch date {date!r} is not YYYY-MM-DD")
    return (datetime.date.fromisoformat(date) - datetime.date(1970, 1, 1)).days


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _list_reasons(column: Column, items: list[Any]) -> list[str]:
    """Section 2.3's two independent parts of a list column: `too_many_items`; and
    `null_list_item`, or else (no null) `too_long` / `malformed_digest` of the items."""
    reasons = ["too_many_items"] if len(items) > column.limit else []
    if column.type == pm.TEXT_LIST:
        if any(item is None for item in items):
            return reasons + ["null_list_item"]
        if any(_utf8_len(item) > column.item_limit for item in items):
            reasons.append("too_long")
        return reasons
    if any(item is None or item.get("uri") is None or item.get("digest") is None
           for item in items):
        return reasons + ["null_list_item"]
    if any(_utf8_len(item["uri"]) > column.item_limit for item in items):
        reasons.append("too_long")
    if any(not _DIGEST.fullmatch(item["digest"]) for item in items):
        reasons.append("malformed_digest")
    return reasons


def column_reasons(column: Column, value: Any, day: int) -> list[str]:
    """The reasons of a column's own rule (section 2.3) for `value`, with batch day `day`."""
    if value is None:
        return [] if column.nullable else ["missing_value"]
    rule = column.rule
    if column.type == pm.TEXT:
        if rule in _TEXT_RULES:
            test, reason = _TEXT_RULES[rule]
            return [] if test(value) else [reason]
        if column.limit is not None and _utf8_len(value) > column.limit:
            return ["too_long"]
        if rule == IDENTIFIER and not _IDENTIFIER.fullmatch(value):
            return ["malformed_identifier"]
        if rule == ENUM and value not in column.values:
            return ["unknown_enum_value"]
        return []
    if rule == TIME_RANGE and not 0 <= value < (day + 2) * US_PER_DAY:
        return ["time_out_of_range"]
    if rule == DATE_RANGE and not 0 <= value < day + 2:
        return ["time_out_of_range"]
    if rule == NOT_NEGATIVE and value < 0:
        return ["negative_value"]
    if rule == ITEMS:
        return _list_reasons(column, value)
    return []


def _row_reasons(name: str, record: dict[str, Any], duplicate: bool) -> list[str]:
    """The row-level reasons reported under column `name` (sections 2.3 and 8.5)."""
    if name == "record_id" and duplicate:
        return ["duplicate_record_id"]
    if name == "code" and record["code"] is None and record["lot_id"] is None:
        return ["no_subject"]
    for later, earlier, reason in (("expiry_date", "production_date", "expiry_before_production"),
                                   ("cleared_at", "declared_at", "cleared_before_declared")):
        if (name == later and record[later] is not None and record[earlier] is not None
                and record[later] < record[earlier]):
            return [reason]
    return []


def validate(kind: str, record: dict[str, Any], day: int,
             duplicate: bool = False) -> list[tuple[str, str]]:
    """Every defect of `record` (section 2.4) as `(column, reason)` pairs, in the order of
    section 8.5. `day` is the batch date in days (`batch_day`); `duplicate` says that an
    earlier row of the same file used the record's `record_id` (the plan's `duplicate_rows`)."""
    defects = []
    for column in COLUMNS[kind]:
        reasons = (column_reasons(column, record[column.name], day)
                   + _row_reasons(column.name, record, duplicate))
        defects += [(column.name, reason) for reason in sorted(reasons, key=REASONS.index)]
    return defects
