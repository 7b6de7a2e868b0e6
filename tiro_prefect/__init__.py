"""Tiro's Prefect layer as an installed package: `tiro_prefect.flows`, `tiro_prefect.tasks`, `tiro_prefect.deployments`.

In the repository these are the top-level `flows/`, `tasks/` and `deployments/` folders (this package links to them),
so the deployments' entrypoints keep their paths; an installed wheel holds them here, under a name that cannot clash
with another project's `flows` or `tasks` module.
"""
