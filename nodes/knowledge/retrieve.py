"""``knowledge.retrieve``: finds the knowledge-base section that answers the client's message.

Writes ``knowledge`` = {section_id, title, score, stage, is_question, candidates (top 3),
stage_scores, timings_us}; the responder and the fallback answer from ``section_id``.
The retriever (resource ``knowledge_retriever``) is built on first use, not at graph load.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from engine.errors import EngineError
from engine.node import NodeConfig, NodeContext
from engine.registry import register
from engine.resources import resource
from nodes.knowledge.index import KnowledgeRetriever

__all__ = ["KnowledgeRetrieve", "KnowledgeRetrieveConfig", "build_retriever"]


def build_retriever(resources: Any) -> KnowledgeRetriever:
    """A retriever over the bundle's knowledge base, using the shared ``morph`` and ``embedder``."""
    bundle = resources.bundle
    kb = bundle.section("knowledge")
    settings = bundle.section("knowledge_retrieval")
    if kb is None or not len(kb):
        raise EngineError("the knowledge base is empty; add yaml_config/knowledge/<topic>.yaml")
    morph = resources.get("morph")

    def embedder() -> Any:
        return resources.get("embedder")

    return KnowledgeRetriever(kb, settings, morph.lemma, embedder, resources.settings.embeddings.cache_dir)


@resource("knowledge_retriever")
def _retriever_resource(resources: Any) -> KnowledgeRetriever:
    return build_retriever(resources)


class KnowledgeRetrieveConfig(NodeConfig):
    semantic_flag: str = "kb_semantic"  # the semantic stage runs only when this flag is on
    max_chars: int = 600  # longer messages are cut before retrieval (they are rarely one question)


@register("knowledge.retrieve")
class KnowledgeRetrieve:
    """Cascade exact → lemma → semantic over ``yaml_config/knowledge``; thresholds from ``_retrieval.yaml``."""

    Config = KnowledgeRetrieveConfig
    reads = frozenset({"text", "intent"})
    writes = frozenset({"knowledge"})

    def __init__(self, config: KnowledgeRetrieveConfig, resources: Any) -> None:
        self.config = config
        self._resources = resources
        kb = resources.bundle.section("knowledge")
        if kb is None or not len(kb):
            raise EngineError("the knowledge base is empty; add yaml_config/knowledge/<topic>.yaml")
        settings = resources.bundle.section("knowledge_retrieval")
        taxonomy = resources.bundle.section("intents")
        category = settings.stages.semantic.question_category if settings is not None else ""
        self._question_intents: frozenset[str] = taxonomy.categories.get(category, frozenset()) if taxonomy is not None else frozenset()

    def run(self, state: Mapping[str, Any], ctx: NodeContext) -> dict[str, Any]:
        text = (state.get("text") or "")[: self.config.max_chars]
        retriever: KnowledgeRetriever = self._resources.get("knowledge_retriever")
        intent = state.get("intent")  # a question intent (``stages.semantic.question_category``) makes it a question
        result = retriever.search(text, semantic=ctx.flag(self.config.semantic_flag), asked=intent in self._question_intents)
        return {"knowledge": result.as_dict()}
