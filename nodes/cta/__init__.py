"""Calls to action: the catalogue (``yaml_config/cta.yaml``) and the ``cta.generate`` node."""
from __future__ import annotations

from nodes.cta.catalogue import CtaCatalogue, load_cta
from nodes.cta.generate import CtaGenerator

__all__ = ["CtaCatalogue", "CtaGenerator", "load_cta"]
