"""Built-in dispatchers."""

from karez.dispatcher.extras.default import Dispatcher as DefaultDispatcher

PLUGINS = {"default": DefaultDispatcher}
