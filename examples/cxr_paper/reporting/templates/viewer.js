"use strict";
const INDEX = JSON.parse(document.getElementById("index").textContent);
const VIRIDIS = INDEX.viridis.match(/.{6}/g).map(h => [0, 2, 4].map(i => parseInt(h.slice(i, i + 2), 16)));
const state = { kind: INDEX.kinds[0], klass: "all", rank: INDEX.models[INDEX.models.length - 1],
                sort: "misses", missesOnly: false, opacity: 0.55, order: [], position: 0, shown: null };
const cache = new Map(), waiting = new Map(), thumbs = new Map();
window.cxrViewer = {
  receive(id, data) {
    cache.set(id, data);
    (waiting.get(id) || []).forEach(resolve => resolve(data));
    waiting.delete(id);
  },
};
function load(id) {
  if (cache.has(id)) return Promise.resolve(cache.get(id));
  return new Promise(resolve => {
    if (!waiting.has(id)) {
      waiting.set(id, []);
      const script = document.createElement("script");
      script.src = `${INDEX.folder}/data/${id}.js`;
      script.onerror = () => console.error(`cannot load ${script.src}`);
      document.head.appendChild(script);
    }
    waiting.get(id).push(resolve);
  });
}
function thumb(image) {
  if (!thumbs.has(image.id)) {
    const img = new Image();
    img.src = `${INDEX.folder}/img/${image.id}.png`;
    thumbs.set(image.id, new Promise(resolve => { img.onload = () => resolve(img); img.onerror = () => console.error(`cannot load ${img.src}`); }));
  }
  return thumbs.get(image.id);
}
function outcome(image, model, kind, klass) {
  const per = ((image.out[model] || {})[kind]) || {};
  let hits = 0, gt = 0, fp = 0;
  for (const [name, counts] of Object.entries(per)) {
    if (klass !== "all" && name !== klass) continue;
    hits += counts[0]; gt += counts[1]; fp += counts[2];
  }
  return { hits, gt, fp, misses: gt - hits };
}
function smallest(image, klass) {
  const sizes = Object.entries(image.sizes).filter(([name]) => klass === "all" || name === klass).map(([, s]) => s);
  return sizes.length ? Math.min(...sizes) : Infinity;
}
function option(select, value, label) {
  const o = document.createElement("option"); o.value = value; o.textContent = label; select.appendChild(o);
}
function setup() {
  const kind = document.getElementById("kind"), klass = document.getElementById("klass"), rank = document.getElementById("rank");
  INDEX.kinds.forEach(v => option(kind, v, INDEX.kind_labels[v] || v));
  option(klass, "all", "all box classes");
  INDEX.classes.forEach(c => option(klass, c, c));
  INDEX.models.forEach(m => option(rank, m, m));
  rank.value = state.rank;
  kind.onchange = () => { state.kind = kind.value; refresh(true); };
  klass.onchange = () => { state.klass = klass.value; state.shown = null; refresh(false); };
  rank.onchange = () => { state.rank = rank.value; refresh(false); };
  document.getElementById("sort").onchange = e => { state.sort = e.target.value; refresh(false); };
  document.getElementById("misses-only").onchange = e => { state.missesOnly = e.target.checked; refresh(false); };
  document.getElementById("opacity").oninput = e => { state.opacity = Number(e.target.value); show(); };
  const bar = document.getElementById("colorbar").getContext("2d");
  VIRIDIS.forEach((rgb, i) => { bar.fillStyle = `rgb(${rgb})`; bar.fillRect(i * 160 / 256, 0, 1, 12); });
  document.addEventListener("keydown", key);
  refresh(false);
}
function refresh(keepPosition) {
  const current = state.order[state.position];
  let images = INDEX.images.filter(im => state.klass === "all" || state.klass in im.sizes);
  if (state.missesOnly) images = images.filter(im => outcome(im, state.rank, state.kind, state.klass).misses > 0);
  const by = {
    misses: (a, b) => outcome(b, state.rank, state.kind, state.klass).misses - outcome(a, state.rank, state.kind, state.klass).misses || a.name.localeCompare(b.name),
    size: (a, b) => smallest(a, state.klass) - smallest(b, state.klass) || a.name.localeCompare(b.name),
    name: (a, b) => a.name.localeCompare(b.name),
  }[state.sort];
  state.order = images.slice().sort(by);
  const found = current ? state.order.indexOf(current) : -1;
  state.position = keepPosition && found >= 0 ? found : 0;
  document.getElementById("count").textContent =
    `${state.order.length} of ${INDEX.images.length} test images with GT boxes`;
  const list = document.getElementById("list");
  list.replaceChildren(...state.order.map((image, position) => {
    const li = document.createElement("li"), o = outcome(image, state.rank, state.kind, state.klass);
    li.dataset.id = image.id;
    li.innerHTML = `<img loading="lazy" alt=""><span><div class="name"></div><div class="classes"></div></span>` +
      `<span class="badge ${o.misses ? "miss" : "hit"}">${o.misses ? `${Number(o.misses)} missed` : `${Number(o.hits)}/${Number(o.gt)}`}</span>`;
    li.querySelector("img").src = `${INDEX.folder}/img/${Number(image.id)}.png`;
    li.querySelector(".name").textContent = image.name;
    li.querySelector(".classes").textContent = Object.keys(image.sizes).join(", ");
    li.onclick = () => select(position);
    return li;
  }));
  select(state.position);
}
function select(position) {
  if (!state.order.length) { document.getElementById("panels").replaceChildren(); document.getElementById("current-name").textContent = "no image matches"; return; }
  state.position = Math.max(0, Math.min(position, state.order.length - 1));
  const image = state.order[state.position];
  document.querySelectorAll("#list li.current").forEach(li => li.classList.remove("current"));
  const li = document.querySelector(`#list li[data-id="${image.id}"]`);
  if (li) { li.classList.add("current"); li.scrollIntoView({ block: "nearest" }); }
  if (!state.shown || !(state.shown in classesOf(image))) state.shown = null;
  show();
}
function classesOf(image) {
  const names = {};
  Object.keys(image.sizes).forEach(c => names[c] = true);
  for (const model of INDEX.models) for (const c of Object.keys(((image.out[model] || {})[state.kind]) || {})) names[c] = true;
  return names;
}
async function show() {
  const image = state.order[state.position];
  if (!image) return;
  const data = await load(image.id), picture = await thumb(image);
  if (image !== state.order[state.position]) return;
  const names = INDEX.classes.filter(c => c in classesOf(image));
  const shown = state.shown || (state.klass !== "all" ? state.klass : names.find(c => c in image.sizes) || names[0]);
  document.getElementById("current-name").textContent = image.name;
  document.getElementById("current-info").textContent =
    `patient ${image.patient} · GT: ${Object.entries(image.sizes).map(([c, s]) => `${c} (${Math.round(s)} px)`).join(", ")} · box sizes √(w·h) in ${INDEX.frame}`;
  document.getElementById("chips").replaceChildren(...names.map(name => {
    const b = document.createElement("button");
    b.textContent = name; b.className = name === shown ? "on" : ""; b.dataset.klass = name;
    b.onclick = () => { state.shown = name; show(); };
    return b;
  }));
  document.getElementById("panels").replaceChildren(...INDEX.models.map(model => panel(model, image, data, picture, shown)));
  document.body.dataset.shown = [image.name, state.kind, shown].join("|");  // what is drawn now
}
function panel(model, image, data, picture, shown) {
  const figure = document.createElement("figure"), canvas = document.createElement("canvas"), caption = document.createElement("figcaption");
  figure.className = "panel"; figure.dataset.model = model; figure.dataset.klass = shown;
  const side = 512, scale = side / Math.max(image.size[0], image.size[1]);
  canvas.width = Math.round(image.size[1] * scale); canvas.height = Math.round(image.size[0] * scale);
  const g = canvas.getContext("2d");
  g.imageSmoothingEnabled = true;
  g.drawImage(picture, 0, 0, canvas.width, canvas.height);
  const entry = ((data.models[model] || {})[state.kind] || {})[shown];
  if (entry) {
    const [h, w] = entry.shape, bytes = atob(entry.map), heat = document.createElement("canvas");
    heat.width = w; heat.height = h;
    const pixels = heat.getContext("2d").createImageData(w, h);
    for (let i = 0; i < w * h; i++) {
      const rgb = VIRIDIS[bytes.charCodeAt(i)];
      pixels.data.set([rgb[0], rgb[1], rgb[2], 255], i * 4);
    }
    heat.getContext("2d").putImageData(pixels, 0, 0);
    g.globalAlpha = state.opacity; g.drawImage(heat, 0, 0, canvas.width, canvas.height); g.globalAlpha = 1;
  }
  const gt = data.gt[shown] || [], predicted = entry ? entry.boxes : [];
  const rect = (box, color, width, dash) => { g.setLineDash(dash); g.strokeStyle = color; g.lineWidth = width; g.strokeRect(box[0] * scale, box[1] * scale, box[2] * scale, box[3] * scale); };
  gt.forEach(box => { rect(box, "#000", 4, []); rect(box, "#fff", 2, [6, 4]); });
  predicted.forEach((box, i) => entry.box_hits[i] ? rect(box, "#56b4e9", 3, []) : rect(box, "#e69f00", 3, [2, 3]));
  g.setLineDash([]);
  figure.dataset.gtBoxes = gt.length; figure.dataset.predBoxes = predicted.length;
  const hits = entry ? entry.hits.filter(Boolean).length : 0, fps = entry ? entry.box_hits.filter(h => !h).length : 0;
  const probability = entry ? entry.prob.toFixed(3) : "–";
  caption.innerHTML = `<b></b><br><span class="kind"></span> · <span class="klass"></span>: p = ${probability}` +
    (gt.length ? ` · GT ${gt.length}, <span class="badge ${hits < gt.length ? "miss" : "hit"}">${hits < gt.length ? `${gt.length - hits} missed` : "all hit"}</span>` : " · no GT box") +
    ` · predicted ${predicted.length}${fps ? ` (${fps} false positive${fps > 1 ? "s" : ""})` : ""}`;
  caption.querySelector("b").textContent = model;
  caption.querySelector(".kind").textContent = INDEX.kind_labels[state.kind] || state.kind;
  caption.querySelector(".klass").textContent = shown;
  figure.append(canvas, caption);
  return figure;
}
function key(event) {
  if (event.target.tagName === "SELECT" || event.target.tagName === "INPUT") return;
  const image = state.order[state.position];
  if (event.key === "j" || event.key === "ArrowDown") { select(state.position + 1); event.preventDefault(); }
  else if (event.key === "k" || event.key === "ArrowUp") { select(state.position - 1); event.preventDefault(); }
  else if ((event.key === "ArrowRight" || event.key === "ArrowLeft") && image) {
    const chips = [...document.querySelectorAll("#chips button")].map(b => b.dataset.klass);
    const now = chips.indexOf(document.querySelector("#chips button.on")?.dataset.klass);
    state.shown = chips[(now + (event.key === "ArrowRight" ? 1 : chips.length - 1)) % chips.length];
    show(); event.preventDefault();
  } else if (event.key === "v") {
    const select = document.getElementById("kind");
    state.kind = INDEX.kinds[(INDEX.kinds.indexOf(state.kind) + 1) % INDEX.kinds.length];
    select.value = state.kind; refresh(true);
  }
}
setup();
