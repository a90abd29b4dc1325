"""Deploy the Dppdl contract (task lifecycle, benchmarking, points and disputes in one)."""

from dppdl.chain.deploy import MigrationContext


def migrate(ctx: MigrationContext) -> None:
    address = ctx.deploy("Dppdl")
    ctx.log(f"Dppdl at {address}")
