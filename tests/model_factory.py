"""A typed base for the tests' factory-boy model factories.

factory-boy's metaclass ``__call__`` (``UserFactory(...)``) carries no type, and mypy does not
read a metaclass ``__call__`` anyway, so it took the call for an instance of the factory. A
``__new__`` seen only by the type checker says what the call returns: the factory's model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

import factory

_M = TypeVar("_M")


class ModelFactory(factory.django.DjangoModelFactory[_M]):
    """A DjangoModelFactory whose call is typed as its model (``ModelFactory[Study]``)."""

    class Meta:
        abstract = True

    if TYPE_CHECKING:
        # A __new__ must return the class for mypy; factory-boy's call returns the model.
        def __new__(cls, **kwargs: Any) -> _M: ...  # type: ignore[misc]
