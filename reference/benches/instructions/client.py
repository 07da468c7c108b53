import http.client, sys, json
port, path, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
body = {"/v1/chat/completions": '{"model":"openai/bench","messages":[{"role":"user","content":"hi"}],"temperature":0.2}',
        "/agent/run": '{"model":"openai/bench","tool_backend":"router","messages":[{"role":"user","content":"hi"}]}'}[path] if len(sys.argv) < 5 else sys.argv[4]
c = http.client.HTTPConnection("127.0.0.1", port)
for i in range(n):
    c.request("POST", path, body=body, headers={"content-type": "application/json"})
    r = c.getresponse(); data = r.read()
    assert r.status == 200, (r.status, data)
print(path, n, "ok", data[:80])
