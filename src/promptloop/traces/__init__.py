"""Production traces read into cases: readers per tracer format, and the import plan."""
