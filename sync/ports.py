"""Moved to gating.sources (ports belong to the domain); kept while adapters migrate."""

from gating.sources import ENTITIES, Entity, Page, SourceAdapter, Watermark

__all__ = ["ENTITIES", "Entity", "Page", "SourceAdapter", "Watermark"]
