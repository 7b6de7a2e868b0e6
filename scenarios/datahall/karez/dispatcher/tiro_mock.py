from tiro.plugins.karez import DispatcherForMockServer as Dispatcher
