"""``extract.data``: structured facts a client states in a message, merged into collected data.

Fields (only those found are written): ``company_size``, ``points_count``,
``business_type``, ``current_tools``, ``competitor``, ``city``, ``pain_point``,
``pain_category`` (losing_clients / no_control / manual_work), ``pain_impact``,
``financial_impact`` (+ ``financial_impact_kzt``, ``financial_period``), ``budget_kzt``,
``contact_info`` (+ ``phone``, ``email``), ``desired_outcome``, ``value_acknowledged``,
``contact_name``. What to look for lives in ``yaml_config/nlu/extract.yaml``.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from engine.node import NodeConfig, NodeContext
from engine.registry import register
from nodes.extract.contacts import find_emails, phone_spans
from nodes.extract.numbers import NumberSpan, Token, find_numbers, tokenize
from nodes.extract.spec import CountSpec, ExtractSpec
from nodes.extract.stems import StemIndex

__all__ = ["DataExtractor", "DataExtractorConfig", "Extractor"]

_CLAUSE = re.compile(r"[.;!?\n]|,\s|\s(?:но|а|зато|однако)\s")


def _format_kzt(amount: float) -> str:
    return f"{int(round(amount)):,}".replace(",", " ") + " ₸"


class Extractor:
    """Pure extraction over an :class:`ExtractSpec`; ``extract(text)`` → dict of found fields."""

    def __init__(self, spec: ExtractSpec, pain_point_max_chars: int = 160) -> None:
        self.spec = spec
        self.max_chars = pain_point_max_chars
        self._names = [re.compile(pattern) for pattern in spec.name_patterns]
        self._named = {key: StemIndex(getattr(spec, key)) for key in ("business_types", "competitors", "cities")}
        self._tools = StemIndex(spec.tools)
        money = spec.money
        self._currency = StemIndex.of(money.currency)
        self._loss = StemIndex.of(money.loss_words)
        self._budget = StemIndex.of(money.budget_words)
        self._periods = StemIndex(money.periods)
        pain = spec.pain
        self._pain_categories = StemIndex(pain.categories)
        self._pain_general = StemIndex.of(pain.general)
        self._impact_units = StemIndex.of(pain.impact_units)
        outcome = spec.outcome
        self._triggers = StemIndex.of(outcome.triggers)
        self._not_outcome = StemIndex.of(outcome.not_followed_by)
        self._value = StemIndex.of(outcome.value_phrases)

    def extract(self, text: str) -> dict[str, Any]:
        spec = self.spec
        out: dict[str, Any] = {}
        if not text:
            return out
        spans = phone_spans(text)
        phones = list(dict.fromkeys(phone for _start, _end, phone in spans))
        emails = find_emails(text)
        if phones:
            out["phone"] = phones[0]
        if emails:
            out["email"] = emails[0]
        if phones or emails:
            out["contact_info"] = phones[0] if phones else emails[0]
        tokens = tokenize(text)
        numbers = [span for span in find_numbers(tokens, text, spec.numbers) if not any(start < span.end and span.start < end for start, end, _phone in spans)]
        used: set[int] = set()
        size = self._count(tokens, numbers, spec.company_size, used, exclude=spec.points.nouns)
        if size is not None:
            out["company_size"] = size
        points = self._count(tokens, numbers, spec.points, used, exclude=spec.company_size.nouns)
        if points is not None:
            out["points_count"] = points
        for key, index in (("business_type", "business_types"), ("competitor", "competitors"), ("city", "cities")):
            found = self._named[index].earliest_id(tokens)
            if found is not None:
                out[key] = found
        tools = self._tools.ids(tokens)
        if tools:
            out["current_tools"] = tools
        self._money(text, tokens, numbers, used, out)
        self._pain(text, tokens, numbers, used, out)
        self._outcome(text, tokens, out)
        for regex in self._names:
            match = regex.search(text)
            if match:
                out["contact_name"] = match.group("name").strip().title()
                break
        return out

    # -- pieces ------------------------------------------------------------------------------
    @staticmethod
    def _count(tokens: list[Token], numbers: list[NumberSpan], spec: CountSpec, used: set[int], exclude: list[str]) -> int | None:
        nouns, excluded = tuple(spec.nouns), tuple(exclude)  # str.startswith takes a tuple: one C call per token
        for span in numbers:
            if span.first in used or span.value != int(span.value) or not 0 < span.value <= spec.max_value:
                continue
            window = range(span.last + 1, min(len(tokens), span.last + 2 + spec.max_gap))
            hit = next((i for i in window if tokens[i].text.startswith(nouns)), None)
            blocked = next((i for i in window if i != hit and tokens[i].text.startswith(excluded)), None)
            if hit is not None and (blocked is None or hit < blocked):
                used.add(span.first)
                return int(span.value)
        for span in numbers:
            if span.first in used or span.value != int(span.value) or not 0 < span.value <= spec.max_value:
                continue
            before = [tokens[i].text for i in range(max(0, span.first - 2), span.first)]
            after = tokens[span.last + 1].text if span.last + 1 < len(tokens) else ""
            if any(word in spec.lead_words for word in before) and not after.startswith(excluded) and not after[:1].isdigit():
                if after and after.startswith(("тыс", "млн", "тенге", "тг", "руб", "процент", "раз", "год", "лет", "мес", "дн", "час")):
                    continue
                used.add(span.first)
                return int(span.value)
        return None

    def _period(self, tokens: list[Token], after: int) -> str | None:
        return self._periods.earliest_id(tokens[after + 1: after + 4])

    def _money(self, text: str, tokens: list[Token], numbers: list[NumberSpan], used: set[int], out: dict[str, Any]) -> None:
        loss = self._loss.first(tokens) is not None
        budget = self._budget.first(tokens) is not None
        for span in numbers:
            if span.first in used:
                continue
            next_tokens = tokens[span.last + 1: span.last + 3]
            has_currency = self._currency.first(next_tokens) is not None or "₸" in text[span.start:span.end + 3]
            multiplied = span.last > span.first or any(ch.isalpha() for ch in text[span.start:span.end])
            if not (has_currency or (multiplied and span.value >= 1000) or ((loss or budget) and span.value >= 1000)):
                continue
            used.add(span.first)
            period = self._period(tokens, span.last)
            if budget and not loss:
                out["budget_kzt"] = int(round(span.value))
            else:
                out["financial_impact_kzt"] = int(round(span.value))
                label = _format_kzt(span.value)
                if period is not None:
                    out["financial_period"] = period
                    label += {"day": " в день", "week": " в неделю", "month": " в месяц", "year": " в год"}.get(period, "")
                out["financial_impact"] = label
            return

    def _clause(self, text: str, position: int) -> str:
        starts = [m.end() for m in _CLAUSE.finditer(text, 0, position)]
        start = starts[-1] if starts else 0
        end_match = _CLAUSE.search(text, position)
        end = end_match.start() if end_match else len(text)
        return text[start:end].strip(" ,.-")[: self.max_chars]

    def _pain(self, text: str, tokens: list[Token], numbers: list[NumberSpan], used: set[int], out: dict[str, Any]) -> None:
        scores: dict[str, int] = {}
        first: int | None = None
        counted: set[tuple[str, str]] = set()
        for index, category, stem in self._pain_categories.hits(tokens):
            if (category, stem) not in counted:  # each stem counts once
                counted.add((category, stem))
                scores[category] = scores.get(category, 0) + 1
            first = index if first is None else min(first, index)
        general = self._pain_general.first(tokens)
        if general is not None:
            first = general if first is None else min(first, general)
        if scores:
            out["pain_category"] = max(scores.items(), key=lambda item: (item[1], -self._pain_categories.order[item[0]]))[0]
        if first is not None:
            out["pain_point"] = self._clause(text, tokens[first].start)
        for span in numbers:
            if span.first in used or span.last + 1 >= len(tokens):
                continue
            unit = tokens[span.last + 1]
            if self._impact_units.first([unit]) is not None:
                used.add(span.first)
                end = unit.end
                period = self._period(tokens, span.last + 1)
                if period is not None:
                    window = tokens[span.last + 2: span.last + 5]
                    end = window[min(len(window) - 1, 1)].end if window else end
                out["pain_impact"] = text[span.start:end].strip()
                break

    def _outcome(self, text: str, tokens: list[Token], out: dict[str, Any]) -> None:
        index = self._triggers.first(tokens)
        if index is not None and index + 1 < len(tokens) and self._not_outcome.first(tokens[index + 1:index + 2]) is not None:
            index = None
        if index is not None:
            clause = self._clause(text, tokens[index].start)
            if len(clause.split()) >= 2:
                out["desired_outcome"] = clause
        if self._value.first(tokens) is not None:
            out["value_acknowledged"] = True


class DataExtractorConfig(NodeConfig):
    merge: bool = True
    pain_point_max_chars: int = 160


def _merge(collected: Mapping[str, Any], found: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(collected)
    for key, value in found.items():
        if isinstance(value, list) and isinstance(merged.get(key), list):
            merged[key] = list(dict.fromkeys([*merged[key], *value]))
        else:
            merged[key] = value
    return merged


@register("extract.data")
class DataExtractor:
    """Extracts this turn's facts into ``extracted`` and merges them into ``conv.collected_data``."""

    Config = DataExtractorConfig
    reads = frozenset({"text", "conv.collected_data"})
    writes = frozenset({"extracted", "conv.collected_data"})

    def __init__(self, config: DataExtractorConfig, resources: Any) -> None:
        self.config = config
        spec = resources.bundle.section("extract")
        self.extractor = Extractor(spec, config.pain_point_max_chars) if spec is not None else None

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        found = self.extractor.extract(state.get("text") or "") if self.extractor is not None else {}
        patch: dict[str, Any] = {"extracted": found}
        if self.config.merge and found:
            patch["conv.collected_data"] = _merge(state.get("conv.collected_data") or {}, found)
        return patch
