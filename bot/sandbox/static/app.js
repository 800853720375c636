// The sandbox's web chat: one pane per person, each a live view of that person's private chat with the
// bot in the offline Telegram. Everything goes through the fake Bot API server's /_control endpoints,
// the same ones the tests use; the page keeps no state the server does not have.
"use strict";

const TEXTS = {
  zh: {
    title: "共治 · 沙盒",
    subtitle: "离线演示：真实的机器人、模拟的 Telegram 和一条演示街道，全部在本机运行。",
    add: "＋ 添加人员",
    empty: "点击“添加人员”，以居民或工作人员的身份聊天。",
    pickTitle: "以谁的身份聊天？",
    search: "搜索姓名、角色、网格、楼栋或 Telegram id",
    newTitle: "新用户（从 /start 开始）",
    newName: "姓名，例如 王小明",
    newAdd: "添加",
    newPerson: "新用户",
    locationTitle: "发送位置",
    latitude: "纬度",
    longitude: "经度",
    cancel: "取消",
    send: "发送",
    message: "输入消息或 /命令",
    commands: "命令菜单",
    attach: "附件",
    record: "录制语音（再点一次发送）",
    recording: "录音中… 点击 ■ 发送",
    photo: "照片",
    voiceFile: "语音文件",
    document: "文件",
    location: "位置",
    contact: "我的联系方式",
    myBuilding: "我的楼栋",
    streetCentre: "街道中心",
    outside: "街道以外",
    typing: "正在输入…",
    edited: "已编辑",
    startHint: "这是一个新的 Telegram 账户。发送 /start 开始使用。",
    emptyChat: "还没有消息。",
    noCommands: "机器人还没有为这个聊天设置命令列表；发送 /start 或 /help。",
    voice: "语音",
    sharedContact: "联系方式",
    sticker: "贴纸",
    featured: "推荐",
    noMatch: "没有找到。",
    micUnavailable: "无法使用麦克风；请改为上传语音文件。",
    failed: "发送失败：",
    unsupported: "此按钮在沙盒中不可用",
  },
  en: {
    title: "Gongzhi · Sandbox",
    subtitle: "Offline demo: the real bot, a simulated Telegram and a demo street, all on this computer.",
    add: "+ Add person",
    empty: "Press “Add person” to chat as a resident or a member of staff.",
    pickTitle: "Chat as whom?",
    search: "Search name, role, grid, building or Telegram id",
    newTitle: "A new person (starts with /start)",
    newName: "Name, e.g. Wang Xiaoming",
    newAdd: "Add",
    newPerson: "new person",
    locationTitle: "Send a location",
    latitude: "Latitude",
    longitude: "Longitude",
    cancel: "Cancel",
    send: "Send",
    message: "Message or /command",
    commands: "Commands",
    attach: "Attach",
    record: "Record a voice note (press again to send)",
    recording: "Recording… press ■ to send",
    photo: "Photo",
    voiceFile: "Voice file",
    document: "Document",
    location: "Location",
    contact: "My contact",
    myBuilding: "My building",
    streetCentre: "Street centre",
    outside: "Outside the street",
    typing: "typing…",
    edited: "edited",
    startHint: "A new Telegram account. Send /start to begin.",
    emptyChat: "No messages yet.",
    noCommands: "The bot has not set a command list for this chat yet; send /start or /help.",
    voice: "Voice",
    sharedContact: "Contact",
    sticker: "Sticker",
    featured: "featured",
    noMatch: "Nobody found.",
    micUnavailable: "No microphone here; upload a voice file instead.",
    failed: "Could not send: ",
    unsupported: "This button does nothing in the sandbox",
  },
};

const STORE_KEY = "gongzhi.sandbox";
const params = new URLSearchParams(location.search);
const saved = JSON.parse(localStorage.getItem(STORE_KEY) || "{}");
const state = {
  lang: params.get("lang") || saved.lang || (navigator.language.startsWith("zh") ? "zh" : "en"),
  panes: new Map(), // telegram id -> Pane
};

const $ = (selector, root = document) => root.querySelector(selector);
const t = (key) => TEXTS[state.lang][key] ?? TEXTS.en[key] ?? key;

function remember() {
  localStorage.setItem(STORE_KEY, JSON.stringify({ lang: state.lang, panes: [...state.panes.keys()] }));
}

function applyTexts(root = document) {
  root.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
  root.querySelectorAll("[data-i18n-placeholder]").forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
  root.querySelectorAll("[data-i18n-title]").forEach((el) => { el.title = t(el.dataset.i18nTitle); });
  document.documentElement.lang = state.lang === "zh" ? "zh-Hans" : "en";
  $("#lang-toggle").textContent = state.lang === "zh" ? "EN" : "中文";
}

async function call(path, body) {
  const options = body === undefined ? {} : body instanceof FormData
    ? { method: "POST", body }
    : { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) };
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.error || data.description || response.statusText);
  return data;
}

async function people(query = {}) {
  const search = new URLSearchParams({ lang: state.lang, ...query });
  for (let attempt = 0; ; attempt += 1) {
    try {
      return (await call(`/sandbox/people?${search}`)).people;
    } catch (error) {
      if (attempt > 20) throw error; // the sandbox answers 503 while it is still starting
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

// ------------------------------------------------------------------ rendering Telegram's text

const escapeHtml = (text) => text.replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
const safeUrl = (url) => (/^(https?|tg):\/\//i.test(url) ? url : "#");

function openTag(entity, text) {
  const slice = text.slice(entity.offset, entity.offset + entity.length);
  switch (entity.type) {
    case "bold": return ["<b>", "</b>"];
    case "italic": return ["<i>", "</i>"];
    case "underline": return ["<u>", "</u>"];
    case "strikethrough": return ["<s>", "</s>"];
    case "spoiler": return ['<span class="spoiler" title="spoiler">', "</span>"];
    case "code": return ["<code>", "</code>"];
    case "pre": return ["<pre>", "</pre>"];
    case "blockquote": case "expandable_blockquote": return ["<blockquote>", "</blockquote>"];
    case "text_link": return [`<a href="${escapeHtml(safeUrl(entity.url))}" target="_blank" rel="noopener">`, "</a>"];
    case "url": return [`<a href="${escapeHtml(safeUrl(slice))}" target="_blank" rel="noopener">`, "</a>"];
    case "bot_command": return [`<a href="#" class="command" data-command="${escapeHtml(slice)}">`, "</a>"];
    case "text_mention": case "mention": case "hashtag": return ['<span class="mention">', "</span>"];
    default: return ["", ""];
  }
}

// Entities count UTF-16 code units, as JavaScript strings do, so offsets index the string directly.
function renderText(text, entities = []) {
  const starts = new Map();
  const ends = new Map();
  entities.forEach((entity, index) => {
    const item = { entity, index, tags: openTag(entity, text) };
    const end = entity.offset + entity.length;
    if (!starts.has(entity.offset)) starts.set(entity.offset, []);
    if (!ends.has(end)) ends.set(end, []);
    starts.get(entity.offset).push(item);
    ends.get(end).push(item);
  });
  const open = [];
  let html = "";
  for (let i = 0; i <= text.length; i += 1) {
    const closing = ends.get(i) || [];
    if (closing.length) {
      // Close down to the deepest entity ending here, then reopen the ones that go on.
      const reopen = [];
      while (closing.some((item) => open.includes(item))) {
        const top = open.pop();
        html += top.tags[1];
        if (!closing.includes(top)) reopen.unshift(top);
      }
      reopen.forEach((item) => { html += item.tags[0]; open.push(item); });
    }
    const opening = (starts.get(i) || []).sort((a, b) => b.entity.length - a.entity.length || a.index - b.index);
    opening.forEach((item) => { if (item.entity.length > 0) { html += item.tags[0]; open.push(item); } });
    if (i < text.length) html += escapeHtml(text[i]);
  }
  return html;
}

function timeOf(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" });
}

const fileUrl = (fileId) => `/_control/files/${encodeURIComponent(fileId)}`;

function sizeText(bytes) {
  if (!bytes && bytes !== 0) return "";
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

function mediaHtml(message) {
  if (message.photo) {
    const largest = message.photo[message.photo.length - 1];
    return `<a href="${fileUrl(largest.file_id)}" target="_blank"><img class="photo" alt="photo" src="${fileUrl(largest.file_id)}"></a>`;
  }
  if (message.voice) {
    return `<div class="voice"><span>🎤 ${t("voice")} · ${message.voice.duration || 0}s</span>`
      + `<audio controls preload="none" src="${fileUrl(message.voice.file_id)}"></audio>`
      + `<a class="download" href="${fileUrl(message.voice.file_id)}" download="voice.ogg">⬇</a></div>`;
  }
  if (message.document) {
    const doc = message.document;
    const name = escapeHtml(doc.file_name || "file");
    return `<a class="document" href="${fileUrl(doc.file_id)}" download="${name}">`
      + `<span class="doc-icon">📄</span><span><span class="doc-name">${name}</span>`
      + `<span class="doc-size">${sizeText(doc.file_size)}</span></span></a>`;
  }
  if (message.location) {
    const { latitude, longitude } = message.location;
    return `<div class="location">📍 ${latitude.toFixed(5)}, ${longitude.toFixed(5)}</div>`;
  }
  if (message.contact) {
    const c = message.contact;
    return `<div class="shared-contact">👤 ${t("sharedContact")}: ${escapeHtml([c.first_name, c.last_name].filter(Boolean).join(" "))}`
      + ` · ${escapeHtml(c.phone_number)}</div>`;
  }
  if (message.sticker) return `<div class="sticker" title="${t("sticker")}">${escapeHtml(message.sticker.emoji || "🖼️")}</div>`;
  return "";
}

// ------------------------------------------------------------------ a pane: one person's chat

class Pane {
  constructor(person) {
    this.person = person;
    this.id = person.telegram_id;
    this.messages = new Map();
    this.keyboard = null;
    this.keyboardHidden = false;
    this.commands = [];
    this.root = $("#pane-template").content.firstElementChild.cloneNode(true);
    this.root.dataset.user = String(this.id);
    this.list = $(".messages", this.root);
    this.input = $(".text", this.root);
    this.file = $(".file", this.root);
    applyTexts(this.root);
    this.renderHead();
    this.bind();
    this.connect();
  }

  renderHead() {
    const p = this.person;
    $(".avatar", this.root).textContent = (p.name || "?").replace(/^演示/, "").slice(0, 1);
    $(".avatar", this.root).dataset.role = p.role || "new";
    $(".name", this.root).textContent = p.name;
    const role = p.role_label || (p.new ? t("newPerson") : "");
    $(".meta", this.root).textContent = [role, p.place].filter(Boolean).join(" · ");
    $(".typing", this.root).textContent = t("typing");
  }

  bind() {
    $(".close", this.root).addEventListener("click", () => closePane(this.id));
    $(".composer", this.root).addEventListener("submit", (event) => {
      event.preventDefault();
      const text = this.input.value.trim();
      if (!text) return;
      this.input.value = "";
      this.send({ text });
    });
    $(".commands-btn", this.root).addEventListener("click", () => this.toggleMenu(".commands-menu"));
    $(".attach-btn", this.root).addEventListener("click", () => this.toggleMenu(".attach-menu"));
    $(".attach-menu", this.root).addEventListener("click", (event) => {
      const button = event.target.closest("[data-attach]");
      if (!button) return;
      this.closeMenus();
      this.attach(button.dataset.attach);
    });
    this.file.addEventListener("change", () => {
      const [chosen] = this.file.files;
      if (chosen) this.upload(this.file.dataset.kind, chosen, chosen.name);
      this.file.value = "";
    });
    $(".record-btn", this.root).addEventListener("click", () => this.record());
    $(".alert-ok", this.root).addEventListener("click", () => { $(".alert", this.root).hidden = true; });
    this.list.addEventListener("click", (event) => {
      const command = event.target.closest(".command");
      if (command) {
        event.preventDefault();
        this.send({ text: command.dataset.command });
        return;
      }
      const spoiler = event.target.closest(".spoiler");
      if (spoiler) spoiler.classList.add("revealed");
      const button = event.target.closest("button.ikb");
      if (button) this.pressInline(button);
    });
  }

  connect() {
    this.events = new EventSource(`/_control/events?chat_id=${this.id}`);
    this.events.onmessage = (event) => this.onEvent(JSON.parse(event.data));
  }

  close() {
    this.events.close();
    this.root.remove();
  }

  onEvent(event) {
    switch (event.kind) {
      case "snapshot":
        this.messages.clear();
        this.list.replaceChildren();
        event.messages.forEach((message) => this.upsert(message));
        this.renderEmpty();
        this.scrollDown(true);
        break;
      case "message":
      case "edited":
        this.upsert(event.message);
        if (event.kind === "message") this.setTyping(false);
        this.renderEmpty();
        this.scrollDown(event.kind === "message" && !event.message.from.is_bot);
        break;
      case "deleted":
        this.messages.get(event.message.message_id)?.remove();
        this.messages.delete(event.message.message_id);
        break;
      case "callback_answer":
        if (event.data.text) this.notify(event.data.text, event.data.show_alert);
        break;
      case "chat_action":
        this.setTyping(true);
        break;
      default:
        break;
    }
    this.keyboard = event.keyboard && event.keyboard.keyboard ? event.keyboard : null;
    if (event.kind === "message" && event.message.from.is_bot && this.keyboard) this.keyboardHidden = false;
    this.commands = event.commands || [];
    this.renderKeyboard();
    this.renderCommands();
  }

  upsert(message) {
    const fromBot = message.from.is_bot;
    const node = document.createElement("div");
    node.className = `msg ${fromBot ? "bot" : "me"}`;
    node.dataset.id = String(message.message_id);
    const text = message.text ?? message.caption ?? "";
    const entities = message.entities ?? message.caption_entities ?? [];
    const edited = message.edit_date ? `<span class="edited">${t("edited")}</span>` : "";
    node.innerHTML = `<div class="bubble">${mediaHtml(message)}`
      + (text ? `<div class="text">${renderText(text, entities)}</div>` : "")
      + `<div class="stamp">${edited}${timeOf(message.date)}</div></div>`;
    const rows = message.reply_markup?.inline_keyboard || [];
    if (rows.length) {
      const keyboard = document.createElement("div");
      keyboard.className = "inline-keyboard";
      rows.forEach((row) => {
        const line = document.createElement("div");
        line.className = "row";
        row.forEach((button) => {
          const element = document.createElement("button");
          element.type = "button";
          element.className = "ikb";
          element.textContent = button.text;
          if (button.callback_data !== undefined) element.dataset.data = button.callback_data;
          else if (button.url) element.dataset.url = button.url;
          else { element.disabled = true; element.title = t("unsupported"); }
          line.append(element);
        });
        keyboard.append(line);
      });
      node.append(keyboard);
    }
    const existing = this.messages.get(message.message_id);
    if (existing) {
      existing.replaceWith(node);
      if (message.edit_date) node.classList.add("flash");
    } else {
      this.list.append(node);
    }
    this.messages.set(message.message_id, node);
  }

  renderEmpty() {
    let hint = $(".chat-hint", this.list);
    if (this.messages.size === 0) {
      if (!hint) {
        hint = document.createElement("p");
        hint.className = "chat-hint";
        this.list.append(hint);
      }
      hint.textContent = this.person.new ? t("startHint") : t("emptyChat");
    } else {
      hint?.remove();
    }
  }

  scrollDown(force) {
    const nearBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 160;
    if (force || nearBottom) requestAnimationFrame(() => { this.list.scrollTop = this.list.scrollHeight; });
  }

  renderKeyboard() {
    const area = $(".reply-keyboard", this.root);
    area.replaceChildren();
    area.hidden = !this.keyboard || this.keyboardHidden;
    if (area.hidden) return;
    this.keyboard.keyboard.forEach((row) => {
      const line = document.createElement("div");
      line.className = "row";
      row.forEach((button) => {
        const element = document.createElement("button");
        element.type = "button";
        element.className = "rkb";
        element.textContent = button.text;
        element.addEventListener("click", () => this.pressReply(button));
        line.append(element);
      });
      area.append(line);
    });
  }

  renderCommands() {
    const menu = $(".commands-menu", this.root);
    menu.replaceChildren();
    if (!this.commands.length) {
      const empty = document.createElement("p");
      empty.className = "muted";
      empty.textContent = t("noCommands");
      menu.append(empty);
      return;
    }
    this.commands.forEach((command) => {
      const element = document.createElement("button");
      element.type = "button";
      element.innerHTML = `<b>/${escapeHtml(command.command)}</b> <span>${escapeHtml(command.description)}</span>`;
      element.addEventListener("click", () => { this.closeMenus(); this.send({ text: `/${command.command}` }); });
      menu.append(element);
    });
  }

  toggleMenu(selector) {
    const menu = $(selector, this.root);
    const show = menu.hidden;
    this.closeMenus();
    menu.hidden = !show;
  }

  closeMenus() {
    this.root.querySelectorAll(".popup").forEach((menu) => { menu.hidden = true; });
  }

  setTyping(on) {
    const typing = $(".typing", this.root);
    typing.hidden = !on;
    clearTimeout(this.typingTimer);
    if (on) this.typingTimer = setTimeout(() => { typing.hidden = true; }, 5000);
  }

  notify(text, alert) {
    if (alert) {
      $(".alert-text", this.root).textContent = text;
      $(".alert", this.root).hidden = false;
      return;
    }
    const toast = $(".toast", this.root);
    toast.textContent = text;
    toast.hidden = false;
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => { toast.hidden = true; }, 4000);
  }

  async send(content) {
    try {
      await call("/_control/send", { user_id: this.id, ...content });
    } catch (error) {
      this.notify(t("failed") + error.message, true);
    }
  }

  async pressInline(button) {
    if (button.dataset.url) {
      window.open(button.dataset.url, "_blank", "noopener");
      return;
    }
    const message = button.closest(".msg");
    button.classList.add("pressed");
    try {
      await call("/_control/press", {
        user_id: this.id, chat_id: this.id, message_id: Number(message.dataset.id), data: button.dataset.data,
      });
    } catch (error) {
      this.notify(t("failed") + error.message, true);
    }
  }

  pressReply(button) {
    if (this.keyboard?.one_time_keyboard) {
      this.keyboardHidden = true;
      this.renderKeyboard();
    }
    if (button.request_contact) this.shareContact();
    else if (button.request_location) this.askLocation();
    else this.send({ text: button.text });
  }

  shareContact() {
    const [first, ...rest] = this.person.name.split(" ");
    const contact = { phone_number: this.person.phone, first_name: first || this.person.name, user_id: this.id };
    if (rest.length) contact.last_name = rest.join(" ");
    this.send({ contact });
  }

  attach(kind) {
    if (kind === "location") { this.askLocation(); return; }
    if (kind === "contact") { this.shareContact(); return; }
    this.file.dataset.kind = kind;
    this.file.accept = { photo: "image/*", voice: "audio/*", document: "" }[kind];
    this.file.click();
  }

  askLocation() {
    const dialog = $("#location-dialog");
    const presets = $("#location-presets");
    const choices = [];
    if (this.person.home) choices.push([t("myBuilding"), this.person.home]);
    choices.push([t("streetCentre"), this.person.centre]);
    choices.push([t("outside"), [31.2304, 121.4737]]);
    presets.replaceChildren(...choices.map(([label, [lat, lon]]) => {
      const element = document.createElement("button");
      element.type = "button";
      element.className = "chip";
      element.textContent = label;
      element.addEventListener("click", () => { $("#location-lat").value = lat; $("#location-lon").value = lon; });
      return element;
    }));
    const [lat, lon] = choices[0][1];
    $("#location-lat").value = lat;
    $("#location-lon").value = lon;
    dialog.onclose = () => {
      if (dialog.returnValue !== "send") return;
      const latitude = Number($("#location-lat").value);
      const longitude = Number($("#location-lon").value);
      if (Number.isFinite(latitude) && Number.isFinite(longitude)) this.send({ location: { latitude, longitude } });
    };
    dialog.showModal();
  }

  async upload(kind, blob, name, duration) {
    const form = new FormData();
    form.append("user_id", String(this.id));
    form.append("kind", kind);
    if (duration) form.append("duration", String(duration));
    const caption = this.input.value.trim();
    if (caption && kind !== "voice") {
      form.append("caption", caption);
      this.input.value = "";
    }
    form.append("file", blob, name);
    try {
      await call("/_control/upload", form);
    } catch (error) {
      this.notify(t("failed") + error.message, true);
    }
  }

  async record() {
    const button = $(".record-btn", this.root);
    if (this.recorder) {
      this.recorder.stop();
      return;
    }
    let stream;
    try {
      stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    } catch {
      this.notify(t("micUnavailable"), false);
      this.attach("voice");
      return;
    }
    const type = ["audio/ogg;codecs=opus", "audio/webm;codecs=opus"].find((m) => MediaRecorder.isTypeSupported(m)) || "";
    const recorder = new MediaRecorder(stream, type ? { mimeType: type } : undefined);
    const chunks = [];
    const started = Date.now();
    recorder.ondataavailable = (event) => chunks.push(event.data);
    recorder.onstop = () => {
      stream.getTracks().forEach((track) => track.stop());
      this.recorder = null;
      button.classList.remove("recording");
      this.input.placeholder = t("message");
      const blob = new Blob(chunks, { type: recorder.mimeType || "audio/ogg" });
      const seconds = Math.max(1, Math.round((Date.now() - started) / 1000));
      this.upload("voice", blob, blob.type.includes("webm") ? "voice.webm" : "voice.ogg", seconds);
    };
    this.recorder = recorder;
    recorder.start();
    button.classList.add("recording");
    this.input.placeholder = t("recording");
  }
}

// ------------------------------------------------------------------ the page

function openPane(person) {
  if (state.panes.has(person.telegram_id)) {
    state.panes.get(person.telegram_id).root.scrollIntoView({ behavior: "smooth", inline: "center" });
    return;
  }
  const pane = new Pane(person);
  state.panes.set(person.telegram_id, pane);
  $("#panes").append(pane.root);
  $(".empty-hint").hidden = true;
  remember();
}

function closePane(id) {
  state.panes.get(id)?.close();
  state.panes.delete(id);
  $(".empty-hint").hidden = state.panes.size > 0;
  remember();
}

function personItem(person) {
  const item = document.createElement("li");
  // The demo's own descriptions are English; the Chinese page shows a plain "featured" mark with it as a tip.
  const badgeText = state.lang === "en" ? person.featured : t("featured");
  const badge = person.featured
    ? `<span class="badge" title="${escapeHtml(person.featured)}">${escapeHtml(badgeText)}</span>` : "";
  item.innerHTML = `<button type="button" class="person" data-id="${person.telegram_id}">`
    + `<span class="avatar" data-role="${escapeHtml(person.role || "new")}">${escapeHtml((person.name || "?").replace(/^演示/, "").slice(0, 1))}</span>`
    + `<span class="who"><span class="name">${escapeHtml(person.name)} ${badge}</span>`
    + `<span class="meta">${escapeHtml([person.role_label || (person.new ? t("newPerson") : ""), person.place].filter(Boolean).join(" · "))}`
    + ` · ${person.telegram_id}</span></span></button>`;
  $("button", item).addEventListener("click", () => {
    $("#picker").close();
    openPane(person);
  });
  return item;
}

let searchTimer;
async function fillPicker() {
  const list = $("#picker-list");
  const query = $("#picker-search").value.trim();
  const found = await people(query ? { q: query } : {});
  list.replaceChildren(...found.map(personItem));
  if (!found.length) {
    const none = document.createElement("li");
    none.className = "muted";
    none.textContent = t("noMatch");
    list.append(none);
  }
}

function setupPicker() {
  $("#add-person").addEventListener("click", () => {
    $("#picker-search").value = "";
    fillPicker();
    $("#picker").showModal();
    $("#picker-search").focus();
  });
  $("#picker-search").addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(fillPicker, 150);
  });
  $("#newcomer-add").addEventListener("click", async () => {
    const person = await call(`/sandbox/people?lang=${state.lang}`, {
      name: $("#newcomer-name").value, language_code: $("#newcomer-language").value,
    });
    $("#newcomer-name").value = "";
    $("#picker").close();
    openPane(person);
  });
}

async function refreshHeads() {
  if (!state.panes.size) return;
  const fresh = await people({ ids: [...state.panes.keys()].join(",") });
  fresh.forEach((person) => {
    const pane = state.panes.get(person.telegram_id);
    if (pane) { pane.person = person; pane.renderHead(); }
  });
}

async function start() {
  applyTexts();
  setupPicker();
  $("#lang-toggle").addEventListener("click", () => {
    state.lang = state.lang === "zh" ? "en" : "zh";
    applyTexts();
    remember();
    refreshHeads();
  });
  document.addEventListener("click", (event) => {
    if (!event.target.closest(".popup, .commands-btn, .attach-btn")) {
      state.panes.forEach((pane) => pane.closeMenus());
    }
  });
  const wanted = (params.get("people") || "").split(",").filter(Boolean).map(Number);
  const ids = wanted.length ? wanted : saved.panes || [];
  let chosen = ids.length ? await people({ ids: ids.join(",") }) : [];
  chosen.sort((a, b) => ids.indexOf(a.telegram_id) - ids.indexOf(b.telegram_id));
  if (!chosen.length) {
    // First visit: a resident and the grid worker who will get their report.
    const featured = (await people()).filter((person) => person.featured);
    chosen = [featured.find((p) => p.role === "resident"), featured.find((p) => p.role === "grid_worker")].filter(Boolean);
  }
  chosen.forEach(openPane);
}

start();
