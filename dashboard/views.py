from django.http import HttpResponse


def home(request):
    return HttpResponse("Spanlens is running. The dashboard lands here.")
