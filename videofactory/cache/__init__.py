"""Reuse across runs: content keys (``keys``, pure) and the per-workdir artifact cache
(``artifacts``). A task whose key the cache holds is finished from it, with no GPU work."""

from videofactory.cache.artifacts import CACHE_DIR, ArtifactCache, Entry, PruneReport, file_sha256
from videofactory.cache.keys import gpu_key, speech_key

__all__ = [
    "CACHE_DIR",
    "ArtifactCache",
    "Entry",
    "PruneReport",
    "file_sha256",
    "gpu_key",
    "speech_key",
]
