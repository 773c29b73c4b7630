"""kiln's on-disk module cache (see docs/cache.md)."""
from kiln.linkers.cache.key import codegen_version, compiler_identity, cpu_features, module_key
from kiln.linkers.cache.location import CacheLocationError, default_cache_dir, ensure_private_dir
from kiln.linkers.cache.store import CacheEntry, CacheStats, ModuleCache, get_cache

__all__ = ["ModuleCache", "CacheEntry", "CacheStats", "CacheLocationError", "get_cache",
           "default_cache_dir", "ensure_private_dir", "module_key", "compiler_identity",
           "cpu_features", "codegen_version"]
