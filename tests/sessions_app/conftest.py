from tests.relationships.support import clock

__all__ = ["clock"]
