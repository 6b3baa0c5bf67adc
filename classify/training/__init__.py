"""How the shipped model is built: corpora and splits, fine-tuning, head refits, dev-split tuning, metrics.

Nothing here runs for users: ``classify/`` keeps what predicts (encoder, heads, pipeline, file mode, sentences,
evidence, jobs, product layers), ``classify.training`` the recipe (``python -m classify.training.train``) and the
fits of the smaller parts (``python -m classify.training.multilingual``). Runtime modules never import it.
"""
