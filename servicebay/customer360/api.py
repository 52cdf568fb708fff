from ninja import Router

router = Router(tags=["customer360"])
