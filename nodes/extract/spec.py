"""Section ``extract`` (``yaml_config/nlu/extract.yaml``): what the data extractor looks for.

Stems are matched as word prefixes on the normalised text (lowercase, ё→е). Lists of
named things (business types, tools, competitors, cities, pain categories) map an id to
its stems; the first id in file order wins ties. Number words carry their inflected forms.
"""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from engine.config import ConfigBundle, section, validate_model

__all__ = ["ExtractSpec", "NumberWords", "load_extract_spec"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _normalised(values: list[str]) -> list[str]:
    for value in values:
        if value != value.lower().replace("ё", "е"):
            raise ValueError(f"'{value}' must be lowercase with е instead of ё (the text is normalised so)")
    return values


class NumberWords(_Strict):
    words: dict[str, float] = Field(default_factory=dict, description="number word form → value («двух»: 2)")
    multipliers: dict[str, float] = Field(default_factory=dict, description="«тысяч»: 1000, «млн»: 1000000")
    glued_multipliers: dict[str, float] = Field(default_factory=dict, description="suffixes glued to digits: «200к»")


class CountSpec(_Strict):
    nouns: list[str] = Field(description="stems of the counted noun («сотрудник», «человек»)")
    lead_words: list[str] = Field(default_factory=list, description="words before a bare number that imply this count («нас 10»)")
    max_gap: int = Field(2, ge=0, le=4, description="words allowed between the number and the noun")
    max_value: int = Field(100_000, ge=1)

    @field_validator("nouns", "lead_words")
    @classmethod
    def _lowercase(cls, value: list[str]) -> list[str]:
        return _normalised(value)


class MoneySpec(_Strict):
    currency: list[str] = Field(default_factory=list, description="stems marking tenge amounts («тенге», «тг», «₸»)")
    loss_words: list[str] = Field(default_factory=list, description="stems that make an amount a financial impact")
    budget_words: list[str] = Field(default_factory=list, description="stems that make an amount a budget")
    periods: dict[str, list[str]] = Field(default_factory=dict, description="period id → stems («month»: [месяц, мес])")


class PainSpec(_Strict):
    categories: dict[str, list[str]] = Field(description="pain category id → stems")
    general: list[str] = Field(default_factory=list, description="other stems that mark a pain point")
    impact_units: list[str] = Field(default_factory=list, description="stems of counted losses («клиент», «час»)")


class OutcomeSpec(_Strict):
    triggers: list[str] = Field(description="phrases that start a desired outcome («хотим», «нужно чтобы»)")
    not_followed_by: list[str] = Field(default_factory=list, description="a trigger followed by one of these is a request, not an outcome («хочу узнать»)")
    value_phrases: list[str] = Field(default_factory=list, description="phrases meaning the client sees value")


class ExtractSpec(_Strict):
    version: int = 1
    numbers: NumberWords = NumberWords()
    company_size: CountSpec
    points: CountSpec
    business_types: dict[str, list[str]] = Field(default_factory=dict)
    tools: dict[str, list[str]] = Field(default_factory=dict)
    competitors: dict[str, list[str]] = Field(default_factory=dict)
    cities: dict[str, list[str]] = Field(default_factory=dict)
    money: MoneySpec = MoneySpec()
    pain: PainSpec
    outcome: OutcomeSpec
    name_patterns: list[str] = Field(default_factory=list, description="regexes with a group 'name'")


@section("extract")
def load_extract_spec(bundle: ConfigBundle) -> ExtractSpec | None:
    doc = bundle.file("yaml_config/nlu/extract.yaml")
    if doc is None:
        return None
    spec, issues = validate_model(doc, ExtractSpec)
    bundle.add(issues)
    if spec is None:
        return None
    for key in ("business_types", "tools", "competitors", "cities"):
        for name, stems in getattr(spec, key).items():
            for index, stem in enumerate(stems):
                if stem != stem.lower().replace("ё", "е"):
                    bundle.add([doc.issue((key, name, index), f"'{stem}' must be lowercase with е instead of ё", "The text is normalised so; rewrite the stem")])
    import re

    for index, pattern in enumerate(spec.name_patterns):
        try:
            compiled = re.compile(pattern)
        except re.error as exc:
            bundle.add([doc.issue(("name_patterns", index), f"regex does not compile: {exc}", "Fix the regex")])
            continue
        if "name" not in compiled.groupindex:
            bundle.add([doc.issue(("name_patterns", index), "regex has no group 'name'", "Wrap the name in (?P<name>…)")])
    return spec
