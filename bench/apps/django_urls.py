"""The Django views and URLconf shared by django_app (no middleware) and django_mw."""

from django.http import HttpResponse
from django.http import JsonResponse
from django.urls import path

COMPACT = {"separators": (",", ":")}  # the other frameworks' JSON has no spaces


def other(request, id):
    return JsonResponse({"id": id}, json_dumps_params=COMPACT)


def item(request, id):
    return JsonResponse({"id": id}, json_dumps_params=COMPACT)


def plaintext(request):
    return HttpResponse(b"Hello, World!", content_type="text/plain; charset=utf-8")


def json(request):
    return JsonResponse({"message": "Hello, World!"}, json_dumps_params=COMPACT)


def query(request):
    params = request.GET
    return JsonResponse(
        {"page": int(params["page"]), "size": int(params["size"]), "q": params["q"]},
        json_dumps_params=COMPACT,
    )


urlpatterns = [
    path("plaintext", plaintext),
    path("json", json),
    path("query", query),
    path("mw/plaintext", plaintext),
]
# 99 other parameterised routes, then the path endpoint
urlpatterns += [path(f"r{i}/<id>", other) for i in range(99)]
urlpatterns += [path("items/<int:id>", item)]
