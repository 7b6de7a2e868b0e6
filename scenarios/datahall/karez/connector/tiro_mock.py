from tiro.plugins.karez import ConnectorForMockServer as Connector
