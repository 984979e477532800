"""Knowledge base: YAML sections, the exact → lemma → semantic retriever, the retrieve node."""
from __future__ import annotations

from nodes.knowledge import base, settings  # noqa: F401  (section registration)
from nodes.knowledge.index import KnowledgeRetriever, Retrieval
from nodes.knowledge.retrieve import KnowledgeRetrieve

__all__ = ["KnowledgeRetriever", "Retrieval", "KnowledgeRetrieve"]
