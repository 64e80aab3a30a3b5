// drqa-ng web page: POST /v1/ask, show answers highlighted in their passages and, folded, the passages read
// (best first, as the reader ranked them); when the server has a video
// index (GET /healthz says so), POST /v1/video/ask and show segments with timestamp links. Plain JS.
"use strict";

const SNIPPET = 220; // characters of context shown on each side of the answer

function snippet(answer) {
  // Build "…before <mark>answer</mark> after…" with text nodes only (no innerHTML: passages are untrusted).
  const text = answer.passage_text;
  const from = Math.max(0, answer.start - SNIPPET);
  const to = Math.min(text.length, answer.end + SNIPPET);
  const p = document.createElement("p");
  p.className = "passage";
  p.append((from > 0 ? "…" : "") + text.slice(from, answer.start));
  const mark = document.createElement("mark");
  mark.textContent = text.slice(answer.start, answer.end);
  p.append(mark);
  p.append(text.slice(answer.end, to) + (to < text.length ? "…" : ""));
  return p;
}

function el(tag, className, text) {
  // A new element with a class and (untrusted, so textContent) text.
  const e = document.createElement(tag);
  e.className = className;
  if (text !== undefined) e.textContent = text;
  return e;
}

function pct(confidence) {
  return confidence === null || confidence === undefined ? "n/a" : `${Math.round(confidence * 100)}%`;
}

function confidenceBar(confidence) {
  // A <meter> (0..1) plus its percentage; colour bands come from the meter's low/high/optimum.
  const wrap = el("span", "confidence");
  const meter = document.createElement("meter");
  meter.min = 0; meter.max = 1; meter.low = 0.3; meter.high = 0.6; meter.optimum = 1;
  meter.value = confidence ?? 0;
  wrap.append(meter, el("span", "confidence-pct", ` ${pct(confidence)} confident`));
  return wrap;
}

function answerItem(a) {
  const li = el("li", "answer");
  const head = el("div", "head");
  const n = a.support.count;
  const meta = el("span", "meta", ` — ${a.title} (doc ${a.doc_id})` + (n > 1 ? ` · ${n} passages agree` : "") +
    ` · score ${a.score.toFixed(3)} (reader ${a.reader_score.toFixed(3)}, retriever ${a.retriever_score.toFixed(3)})`);
  head.append(el("strong", "answer-text", a.text), " ", confidenceBar(a.confidence), meta);
  li.append(head, snippet(a));
  return li;
}

function evidenceItem(a) {
  // Abstained: the passage is the point, the span only a highlighted hint.
  const li = el("li", "answer evidence");
  li.append(el("div", "meta", `${a.title} (doc ${a.doc_id}) · best guess “${a.text}”, ${pct(a.confidence)} confident`),
    snippet(a));
  return li;
}

const PASSAGES = 5; // passages read shown under the answers (folded)

function renderPassages(passages) {
  // The passages the reader read, best first, each with its rank in the retriever's list.
  const box = document.getElementById("passages-box");
  const list = document.getElementById("passages");
  list.replaceChildren();
  for (const p of passages || []) {
    const li = el("li", "passage-read");
    const text = p.text.length > 2 * SNIPPET ? p.text.slice(0, 2 * SNIPPET) + "…" : p.text;
    li.append(el("div", "meta", `${p.title} (doc ${p.doc_id}) · retriever rank ${p.retriever_rank}`),
      el("p", "read-text", text));
    list.append(li);
  }
  box.hidden = list.children.length === 0;
}

function render(result, elapsedMs, serverMs) {
  renderPassages(result.passages);
  const list = document.getElementById("answers");
  const notice = document.getElementById("abstained");
  list.replaceChildren();
  notice.hidden = !(result.abstained && result.answers.length);
  if (result.abstained) {
    const seen = new Set();
    for (const a of result.answers) {
      if (seen.has(a.passage_id) || seen.size === 3) continue;
      seen.add(a.passage_id);
      list.append(evidenceItem(a));
    }
  } else {
    for (const a of result.answers) list.append(answerItem(a));
  }
  const n = result.answers.length;
  const what = result.abstained ? (n ? "no confident answer; best evidence" : "no answer found")
    : `${n} answer${n === 1 ? "" : "s"}`;
  document.getElementById("status").textContent =
    `${what} in ${elapsedMs.toFixed(0)} ms (server ${serverMs.toFixed(0)} ms)`;
}

function clock(t) {
  const m = Math.floor(t / 60);
  const s = Math.floor(t % 60);
  return `${m}:${String(s).padStart(2, "0")}`;
}

function headers() {
  const h = { "Content-Type": "application/json" };
  const key = document.getElementById("api-key").value;
  if (key) { h["X-API-Key"] = key; localStorage.setItem("drqa-ng-key", key); }
  return h;
}

async function play(answer) {
  // Media fragments (#t=start,end) seek the inline player; with an API key the file is fetched with the
  // header (a <video src> cannot send one).
  const player = document.getElementById("player");
  const key = document.getElementById("api-key").value;
  let src = answer.media_url;
  if (key) {
    const resp = await fetch(answer.media_url.split("#")[0], { headers: { "X-API-Key": key } });
    if (!resp.ok) { document.getElementById("status").textContent = `Error ${resp.status} fetching video`; return; }
    src = URL.createObjectURL(await resp.blob()) + "#t=" + answer.media_url.split("#t=")[1];
  }
  player.hidden = false;
  player.src = src;
  player.play().catch(() => {}); // autoplay may be refused; the player shows the seek position anyway
}

function renderVideo(result, elapsedMs, serverMs) {
  const list = document.getElementById("answers");
  list.replaceChildren();
  for (const a of result.answers) {
    const li = el("li", "answer video-answer");
    const head = el("div", "head");
    const link = el("a", "timestamp", `${a.video_id} ${clock(a.t_start)}–${clock(a.t_end)}`);
    link.href = a.media_url;
    link.addEventListener("click", (e) => { e.preventDefault(); play(a); });
    head.append(link);
    if (a.answer) head.append(el("strong", "answer-text", " " + a.answer));
    head.append(el("span", "meta", ` · score ${a.score.toFixed(3)}`));
    // With a reader span, the segment's text is shown with the span marked, as /v1/ask answers are.
    li.append(head, a.span ? snippet(a.span) : el("p", "passage", a.text));
    const seen = a.frames.flatMap((f) => f.detections.map((d) => d.text || d.label));
    const acc = a.accounting;
    li.append(el("p", "meta findings", (a.tags.length ? `tags: ${a.tags.join(", ")} · ` : "") +
      (seen.length ? `seen: ${[...new Set(seen)].join(", ")} · ` : "") +
      `frames decoded ${acc.frames_decoded}, recognised ${acc.frames_heavy}`));
    list.append(li);
  }
  const n = result.answers.length;
  document.getElementById("status").textContent =
    `${n} segment${n === 1 ? "" : "s"} in ${elapsedMs.toFixed(0)} ms (server ${serverMs.toFixed(0)} ms)`;
}

async function ask(event) {
  event.preventDefault();
  const question = document.getElementById("question").value.trim();
  const status = document.getElementById("status");
  if (!question) { status.textContent = "Type a question first."; return; }
  const video = document.getElementById("mode").value === "video";
  const n = Number(document.getElementById("top-n").value);
  status.textContent = "Thinking…";
  document.getElementById("answers").replaceChildren();
  document.getElementById("abstained").hidden = true;
  renderPassages([]);
  const t0 = performance.now();
  try {
    const resp = await fetch(video ? "/v1/video/ask" : "/v1/ask", {
      method: "POST", headers: headers(),
      body: JSON.stringify(video ? { question, k: n } : { question, top_n: n, passages: PASSAGES }),
    });
    const body = await resp.json();
    if (!resp.ok) {
      const detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
      status.textContent = `Error ${resp.status}: ${detail}`;
      return;
    }
    (video ? renderVideo : render)(body.results[0], performance.now() - t0, body.latency_ms);
  } catch (err) {
    status.textContent = `Request failed: ${err}`;
  }
}

async function detectVideo() {
  try {
    const resp = await fetch("/healthz");
    if (resp.ok && (await resp.json()).video) document.getElementById("mode").hidden = false;
  } catch (err) { /* no video mode when the probe fails */ }
}

document.getElementById("api-key").value = localStorage.getItem("drqa-ng-key") || "";
document.getElementById("ask-form").addEventListener("submit", ask);
detectVideo();
