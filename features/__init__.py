"""Features: records, taxonomies, the talent graph, text indices and the (need, talent) feature matrix.

Imports neither matcher nor service.
"""
