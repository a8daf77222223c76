"""KIM Lotse's own definitions: settings and the composition root (``lotse.runtime.build``)."""
