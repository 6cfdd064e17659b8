"""OpenTelemetry tracing: the app configures the SDK, Kettle makes the spans."""

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

from kettle import Kettle
from kettle.tracing import TracingMiddleware

provider = TracerProvider(resource=Resource.create({"service.name": "shop"}))
# In production: BatchSpanProcessor(OTLPSpanExporter()) from
# opentelemetry-exporter-otlp, sending to a collector.
provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))

app = Kettle()
# Or: trace.set_tracer_provider(provider) and the setting TRACING = True.
app.add_middleware(TracingMiddleware, tracer_provider=provider)
tracer = provider.get_tracer("shop")


@app.get("/stock/{sku}")
async def stock(sku: str) -> dict[str, object]:
    with tracer.start_as_current_span("count stock"):  # a child of the request's
        return {"sku": sku, "count": 3}
