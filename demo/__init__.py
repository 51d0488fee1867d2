"""The demo world: a synthetic but domain-true Jiaxing talent market with a hidden "true relevance" — an exam for
the product, not a spec.

Why it exists: the ranker needs data with a known right answer. The generator first draws *latent* attributes
(``latent``), computes the true relevance of every talent to every need from those alone (``relevance``), lets
simulated recruiters act on a legacy ranking (``recruiter``), and only then renders the observable records with
realistic noise (``render``, with the words of ``vocabulary`` from ``demo/data/``); ``world.generate_world`` ties
the stages together and writes a world folder. Ranking well therefore means reading the records well. The
relevance's factors and forms and the recruiters' noise are drawn per seed (recorded in the world's
``relevance.json``, documented in ``demo/README.md``), so no fixed constant fits every world.
On request (``duplicates``) some persons arrive again as other sources' records, written differently, and which
records are one person is recorded for evaluating record linkage only; and (``relations``) some talents declare
relations to enterprises or their staff (``relations.jsonl``, a product input for the conflict-of-interest rule),
which the simulated recruiters and the truth respect on the posts the world's office evaluates.

Only the CLI's ``world generate``, the tests and the benchmarks may import this package (an import-linter contract):
it holds the truth, and the product must learn what it hides, never copy its constants or functional form.
"""
