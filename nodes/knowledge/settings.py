"""Retriever settings as data: ``yaml_config/knowledge/_retrieval.yaml`` (section ``knowledge_retrieval``).

Thresholds per cascade stage, field weights, stopwords, synonyms and question markers live
in YAML so that tuning retrieval never touches Python.
"""
from __future__ import annotations

import re
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.config import ConfigBundle, Regex, section
from engine.registry import suggest

__all__ = ["StageSettings", "QuestionFocus", "RetrievalSettings", "load_retrieval_settings", "RETRIEVAL_FILE"]

RETRIEVAL_FILE = "yaml_config/knowledge/_retrieval.yaml"


class StageSettings(BaseModel):
    """A stage decides when its best score reaches ``threshold`` and leads the runner-up by ``margin``."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = True
    threshold: float = Field(ge=0, le=1)
    margin: float = Field(default=0.0, ge=0, le=1)


class FieldWeights(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    keywords: float = Field(default=1.0, ge=0, le=1)
    title: float = Field(default=0.9, ge=0, le=1)
    questions: float = Field(default=0.8, ge=0, le=1)
    answer: float = Field(default=0.4, ge=0, le=1)


class SemanticSettings(StageSettings):
    lexical_weight: float = Field(default=0.5, ge=0, le=1, description="share of the lemma score in the fused semantic score")
    fields: list[str] = Field(default_factory=lambda: ["title", "questions"])
    only_questions: bool = Field(default=True, description="embed the message only when it asks something: «?», a question word, or a question intent")
    question_category: str = Field(default="all_questions", description="intent category (base or composed) that counts as a question")

    @model_validator(mode="after")
    def _known_fields(self) -> SemanticSettings:
        unknown = sorted(set(self.fields) - {"title", "questions", "keywords", "answer"})
        if unknown:
            raise ValueError(f"unknown fields {unknown}; use title, questions, keywords or answer")
        return self


class Stages(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    exact: StageSettings = StageSettings(threshold=0.9, margin=0.05)
    lemma: StageSettings = StageSettings(threshold=0.6, margin=0.03)
    semantic: SemanticSettings = SemanticSettings(threshold=0.55, margin=0.02)


class QuestionFocus(BaseModel):
    """A kind of question (any of ``words`` at a word start) and what its answer must contain (``prefer``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    words: list[str] = Field(min_length=1)
    prefer: Regex


    def asked(self, text: str) -> bool:
        """Does the (lowercase) question belong to this kind?"""
        return _words_pattern(tuple(self.words)).search(text.lower().replace("ё", "е")) is not None

    def answered_by(self, text: str) -> bool:
        """Does an answer (or one of its sentences) contain what this kind of question wants?"""
        return re.search(self.prefer, text, re.IGNORECASE) is not None


@lru_cache(maxsize=256)
def _words_pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(word.lower().replace("ё", "е")) for word in sorted(words, key=len, reverse=True))
    return re.compile(rf"(?<![0-9a-zа-яе])(?:{alternatives})")


class RetrievalSettings(BaseModel):
    """The whole ``_retrieval.yaml`` document."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    version: int = 1
    stages: Stages = Stages()
    min_score: float = Field(default=0.35, ge=0, le=1, description="below this no section is returned")
    top_k: int = Field(default=3, ge=1, le=10)
    focus_weight: float = Field(default=0.3, ge=0, le=1, description="share of the question↔title agreement (F1 of the two coverages) in the score")
    stem_length: int = Field(default=5, ge=3, le=10, description="words sharing this many first letters match each other (доставлять ~ доставка)")
    stem_factor: float = Field(default=0.7, ge=0, le=1, description="weight of a stem-only match (0 switches stems off)")
    priority_bonus: float = Field(default=0.004, ge=0, le=0.05, description="score added per priority point (0–10)")
    context_weight: float = Field(default=0.5, ge=0, le=1, description="weight of the words around a question clause in a longer message")
    unknown_word_weight: float = Field(default=0.5, ge=0, le=2, description="idf share given to query words the knowledge base never uses")
    field_weights: FieldWeights = FieldWeights()
    stopwords: list[str] = Field(default_factory=list, description="lemmas ignored in queries and sections")
    synonyms: dict[str, str] = Field(default_factory=dict, description="word or lemma → canonical lemma (каспи → kaspi)")
    question_markers: list[str] = Field(default_factory=list, description="lemmas that make a message a question even without '?'")
    question_focus: list[QuestionFocus] = Field(default_factory=list, description="kinds of question and what their answers must contain")
    focus_penalty: float = Field(default=0.85, ge=0, le=1, description="score factor for a section whose answer lacks what the kind of question wants")


@section("knowledge_retrieval")
def load_retrieval_settings(bundle: ConfigBundle) -> RetrievalSettings:
    loaded = bundle.optional_model(RETRIEVAL_FILE, RetrievalSettings)
    if loaded is None:
        return RetrievalSettings()
    doc, parsed = loaded
    category = parsed.stages.semantic.question_category
    taxonomy = bundle.section("intents")
    if taxonomy is not None and category not in taxonomy.categories:
        bundle.add([doc.issue(("stages", "semantic", "question_category"), f"unknown intent category '{category}'",
                              suggest(category, sorted(taxonomy.categories)) or "Use a category of yaml_config/intents/ or a composed one (all_questions)")])
    for word, target in parsed.synonyms.items():
        if word == target:
            bundle.add([doc.issue(("synonyms", word), f"synonym '{word}' maps to itself", "Remove the entry", key=True)])
    return parsed
