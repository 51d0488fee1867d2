"""Matcher: candidate retrieval, LambdaRank re-ranking, evaluation and the model registry. May import features."""
