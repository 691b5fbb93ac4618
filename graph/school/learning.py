"""The school schema's learning fields: queries in ``learning_queries``, mutations in
``learning_mutations``, types in ``learning_types``, DataLoaders in ``learning_loaders``."""

from __future__ import annotations

from graph.school.learning_mutations import LearningMutation
from graph.school.learning_queries import LearningQuery

__all__ = ["LearningMutation", "LearningQuery"]
