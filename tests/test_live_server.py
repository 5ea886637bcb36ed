import httpx


def test_health_answers_ok(spanlens_server):
    response = httpx.get(f"{spanlens_server.url}/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
