"""The mock data server: Tiro 0.13's HTTP routes plus batch routes, serving values generated from the model."""
