from django.contrib.auth.decorators import login_required
from django.shortcuts import render


@login_required
def model_list(request):
    return render(request, "registry/model_list.html")
