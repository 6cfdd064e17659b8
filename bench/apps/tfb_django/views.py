import random
from operator import itemgetter

from django.http import JsonResponse
from django.shortcuts import render

from ..tfb_common import ADDITIONAL
from ..tfb_common import count
from ..tfb_common import random_ids
from .models import Fortune
from .models import World

COMPACT = {"separators": (",", ":")}  # the other frameworks' JSON has no spaces


def db(request):
    world = World.objects.get(id=random.randint(1, 10000))
    return JsonResponse(
        {"id": world.id, "randomNumber": world.randomnumber}, json_dumps_params=COMPACT
    )


def queries(request):
    ids = random_ids(count(request.GET.get("queries")))
    worlds = [World.objects.get(id=i) for i in ids]
    return JsonResponse(
        [{"id": w.id, "randomNumber": w.randomnumber} for w in worlds],
        safe=False,
        json_dumps_params=COMPACT,
    )


def fortunes(request):
    rows = list(Fortune.objects.values("id", "message"))
    rows.append({"id": 0, "message": ADDITIONAL})
    rows.sort(key=itemgetter("message"))
    return render(request, "fortunes.html", {"fortunes": rows})


def updates(request):
    worlds = []
    for i in random_ids(count(request.GET.get("queries"))):
        world = World.objects.get(id=i)
        world.randomnumber = random.randint(1, 10000)
        world.save()
        worlds.append({"id": world.id, "randomNumber": world.randomnumber})
    return JsonResponse(worlds, safe=False, json_dumps_params=COMPACT)
