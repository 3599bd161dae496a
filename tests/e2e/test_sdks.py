"""The official OpenAI and Anthropic Python SDKs against a real `tessera serve` of the default model."""
import concurrent.futures
import socket

import anthropic
import openai
import pytest

from conftest import API_KEY, wait_idle

CHAT = [{"role": "user", "content": "Write a short story about a cat."}]


# ---- OpenAI ----

def test_chat_completion(openai_client):
    r = openai_client.chat.completions.create(model="smollm2", messages=CHAT, max_tokens=12, temperature=0)
    assert r.object == "chat.completion"
    assert r.model == "smollm2"
    c = r.choices[0]
    assert c.message.role == "assistant"
    assert c.message.content
    assert c.finish_reason == "length"
    assert r.usage.completion_tokens == 12
    assert r.usage.prompt_tokens > 10
    assert r.usage.total_tokens == r.usage.prompt_tokens + 12


def test_chat_streaming_equals_non_streaming(openai_client):
    whole = openai_client.chat.completions.create(model="smollm2", messages=CHAT, max_tokens=20, temperature=0)
    chunks = list(openai_client.chat.completions.create(
        model="smollm2", messages=CHAT, max_tokens=20, temperature=0, stream=True,
        stream_options={"include_usage": True}))
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == whole.choices[0].message.content
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishes == ["length"]
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 20


def test_completion_and_stream(openai_client):
    r = openai_client.completions.create(model="smollm2", prompt="The capital of France is", max_tokens=8,
                                         temperature=0)
    assert r.object == "text_completion"
    assert r.choices[0].text
    streamed = "".join(c.choices[0].text for c in openai_client.completions.create(
        model="smollm2", prompt="The capital of France is", max_tokens=8, temperature=0, stream=True) if c.choices)
    assert streamed == r.choices[0].text


def test_stop_sequence(openai_client):
    free = openai_client.chat.completions.create(model="smollm2", messages=CHAT, max_tokens=30, temperature=0)
    text = free.choices[0].message.content
    stop = text[len(text) // 2:len(text) // 2 + 3]
    r = openai_client.chat.completions.create(model="smollm2", messages=CHAT, max_tokens=30, temperature=0,
                                              stop=[stop, "never-appears"])
    assert r.choices[0].finish_reason == "stop"
    assert r.choices[0].message.content == text[:text.index(stop)]


def test_n_seed_and_logprobs(openai_client):
    kw = dict(model="smollm2", messages=CHAT, max_tokens=10, temperature=1.0, seed=42, n=2, logprobs=True,
              top_logprobs=3)
    a = openai_client.chat.completions.create(**kw)
    b = openai_client.chat.completions.create(**kw)
    assert len(a.choices) == 2
    assert [c.message.content for c in a.choices] == [c.message.content for c in b.choices]
    assert a.choices[0].message.content != a.choices[1].message.content
    lp = a.choices[0].logprobs.content
    assert len(lp) == 10
    assert all(len(t.top_logprobs) == 3 and t.logprob <= 0 for t in lp)
    assert a.usage.completion_tokens == 20


def test_cached_tokens_on_a_repeated_prompt(openai_client):
    long_chat = [{"role": "user", "content": "Tell me about the history of Rome. " * 20}]
    first = openai_client.chat.completions.create(model="smollm2", messages=long_chat, max_tokens=2)
    second = openai_client.chat.completions.create(model="smollm2", messages=long_chat, max_tokens=2)
    assert second.usage.prompt_tokens == first.usage.prompt_tokens
    assert second.usage.prompt_tokens_details.cached_tokens >= second.usage.prompt_tokens - 16


def test_models_list(openai_client):
    ids = [m.id for m in openai_client.models.list().data]
    assert ids == ["smollm2"]


def test_openai_errors(server, openai_client):
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model="smollm2", messages=CHAT, max_tokens=-5)
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model="smollm2", messages=[{"role": "wizard", "content": "x"}])
    with pytest.raises(openai.BadRequestError):
        openai_client.chat.completions.create(model="smollm2", messages=CHAT,
                                              response_format={"type": "json_object"})
    with pytest.raises(openai.NotFoundError):
        openai_client.chat.completions.create(model="no-such-model", messages=CHAT, max_tokens=2)
    bad = openai.OpenAI(base_url=server.base + "/v1", api_key="wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        bad.chat.completions.create(model="smollm2", messages=CHAT, max_tokens=2)
    with pytest.raises(openai.BadRequestError) as e:
        openai_client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": "word " * 9000}], max_tokens=2)
    assert "maximum context length" in str(e.value)


# ---- Anthropic ----
# This SDK version no longer takes `temperature` as an argument; the API still does, so it goes in extra_body.

def test_messages(anthropic_client):
    m = anthropic_client.messages.create(model="claude-any-name-reaches-the-only-model", max_tokens=12, extra_body={"temperature": 0},
                                         system="You are terse.", messages=CHAT)
    assert m.type == "message" and m.role == "assistant"
    assert m.content[0].type == "text" and m.content[0].text
    assert m.stop_reason == "max_tokens"
    assert m.usage.output_tokens == 12


def test_messages_stream(anthropic_client):
    whole = anthropic_client.messages.create(model="smollm2", max_tokens=16, extra_body={"temperature": 0}, messages=CHAT)
    with anthropic_client.messages.stream(model="smollm2", max_tokens=16, extra_body={"temperature": 0}, messages=CHAT) as s:
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text == whole.content[0].text
    assert final.content[0].text == text
    assert final.stop_reason == "max_tokens"
    assert final.usage.output_tokens == 16


def test_messages_stop_sequence(anthropic_client):
    whole = anthropic_client.messages.create(model="smollm2", max_tokens=30, extra_body={"temperature": 0}, messages=CHAT)
    text = whole.content[0].text
    stop = text[len(text) // 2:len(text) // 2 + 3]
    m = anthropic_client.messages.create(model="smollm2", max_tokens=30, extra_body={"temperature": 0}, messages=CHAT,
                                         stop_sequences=[stop])
    assert m.stop_reason == "stop_sequence"
    assert m.stop_sequence == stop
    assert m.content[0].text == text[:text.index(stop)]


def test_count_tokens(anthropic_client):
    n = anthropic_client.messages.count_tokens(model="smollm2", messages=CHAT)
    assert n.input_tokens > 5


def test_anthropic_errors(server, anthropic_client):
    with pytest.raises(anthropic.BadRequestError):
        anthropic_client.messages.create(model="smollm2", max_tokens=0, messages=CHAT)
    with pytest.raises(anthropic.BadRequestError) as e:
        anthropic_client.messages.create(model="smollm2", max_tokens=10,
                                         messages=[{"role": "user", "content": "word " * 9000}])
    assert "prompt is too long" in str(e.value)
    bad = anthropic.Anthropic(base_url=server.base, api_key="wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        bad.messages.create(model="smollm2", max_tokens=2, messages=CHAT)


# ---- concurrency, cancellation, operations ----

def test_64_concurrent_streams(server, openai_client):
    def one(i):
        stream = openai_client.chat.completions.create(
            model="smollm2", messages=[{"role": "user", "content": f"Count to {i}."}], max_tokens=8,
            stream=True, stream_options={"include_usage": True}, extra_body={"ignore_eos": True})
        chunks = list(stream)
        assert [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason] == ["length"]
        return chunks[-1].usage.completion_tokens

    with concurrent.futures.ThreadPoolExecutor(64) as pool:
        assert list(pool.map(one, range(64))) == [8] * 64
    assert wait_idle(server)


def test_disconnect_frees_blocks(server):
    import json
    body = json.dumps({"model": "smollm2", "messages": CHAT, "max_tokens": 2000, "stream": True,
                       "ignore_eos": True}).encode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall(b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Authorization: Bearer " + API_KEY.encode() + b"\r\nContent-Length: " +
              str(len(body)).encode() + b"\r\n\r\n" + body)
    got = b""
    while got.count(b"data:") < 3:
        got += s.recv(4096)
    assert server.metric("vllm:num_requests_running") == 1
    s.close()
    assert wait_idle(server, 10), "the aborted request's blocks were not freed"


def test_operations(server):
    assert server.get("/health")[0] == 200
    _, page = server.get("/metrics")
    for name in ["vllm:num_requests_running", "vllm:num_requests_waiting", "vllm:kv_cache_usage_perc",
                 "vllm:prompt_tokens_total", "vllm:generation_tokens_total", "vllm:prefix_cache_queries_total",
                 "vllm:prefix_cache_hits_total", "vllm:num_preemptions_total",
                 "vllm:time_to_first_token_seconds_bucket", "vllm:inter_token_latency_seconds_bucket",
                 "vllm:e2e_request_latency_seconds_bucket"]:
        assert name in page, name
    assert server.metric("vllm:generation_tokens_total") > 0
    import json
    import urllib.request
    req = urllib.request.Request(server.base + "/tokenize", data=json.dumps({"prompt": "Hello world"}).encode(),
                                 headers={"Authorization": "Bearer " + API_KEY, "Content-Type": "application/json"})
    tokens = json.loads(urllib.request.urlopen(req).read())["tokens"]
    req = urllib.request.Request(server.base + "/detokenize", data=json.dumps({"tokens": tokens}).encode(),
                                 headers={"Authorization": "Bearer " + API_KEY, "Content-Type": "application/json"})
    assert json.loads(urllib.request.urlopen(req).read())["prompt"] == "Hello world"
