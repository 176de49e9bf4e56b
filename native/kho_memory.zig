//! C ABI: memory in bulk (extents, population, many regions in one call).
