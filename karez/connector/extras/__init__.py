"""Built-in connectors: the protocol connectors of upstream (OPC UA, Modbus, MQTT, Eaton, Schneider) are not shipped."""

PLUGINS: dict[str, type] = {}
