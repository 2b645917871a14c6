import { escapeHtml, renderMrkdwn, renderPlainText } from './mrkdwn.js';

/**
 * Block Kit to DOM, close to how Slack draws it: section (text, two-column fields, accessory),
 * context, actions with buttons (primary / danger, confirm dialogs), header, divider, image, and
 * a modal's input with a text box. Anything else is named rather than silently dropped. Buttons carry their Block Kit element in
 * `buttonElements` for the page's click handler.
 * Reference: https://api.slack.com/reference/block-kit/blocks
 */

/** Button DOM node → its Block Kit element (action_id, value, confirm). */
export const buttonElements = new WeakMap();

function element(tag, className, html) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (html !== undefined) node.innerHTML = html;
  return node;
}

/** A text object (`mrkdwn` or `plain_text`) as HTML. */
export function textHtml(text, ctx) {
  if (!text || typeof text.text !== 'string') return '';
  return text.type === 'mrkdwn'
    ? renderMrkdwn(text.text, ctx)
    : renderPlainText(text.text, text.emoji !== false);
}

/** The body of a message: its blocks, or its `text` when it has none. */
export function renderMessageBody(message, ctx) {
  const body = element('div', 'message-body');
  const blocks = Array.isArray(message.blocks) ? message.blocks : [];
  if (blocks.length === 0) {
    body.append(element('div', 'block-text mrkdwn', renderMrkdwn(message.text, ctx)));
    return body;
  }
  for (const block of blocks) body.append(renderBlock(block, ctx, message));
  return body;
}

function renderBlock(block, ctx, message) {
  switch (block?.type) {
    case 'section':
      return renderSection(block, ctx, message);
    case 'context': {
      const node = element('div', 'block-context');
      for (const item of block.elements ?? []) {
        node.append(
          item.type === 'image' ? imageAlt(item) : element('span', 'context-item', textHtml(item, ctx)),
        );
      }
      return node;
    }
    case 'actions': {
      const node = element('div', 'block-actions');
      for (const item of block.elements ?? []) node.append(renderElement(item, ctx, message));
      return node;
    }
    case 'header':
      return element('div', 'block-header', textHtml(block.text, ctx));
    case 'input':
      return renderInput(block, ctx);
    case 'divider':
      return element('hr', 'block-divider');
    case 'image': {
      const node = element('div', 'block-image');
      if (block.title) node.append(element('div', 'image-title', textHtml(block.title, ctx)));
      node.append(imageAlt(block));
      return node;
    }
    default:
      return element(
        'div',
        'block-unknown',
        `(a <code>${escapeHtml(block?.type ?? '?')}</code> block the sandbox does not draw)`,
      );
  }
}

function renderSection(block, ctx, message) {
  const node = element('div', 'block-section');
  const main = element('div', 'section-main');
  if (block.text) main.append(element('div', 'mrkdwn', textHtml(block.text, ctx)));
  if (Array.isArray(block.fields) && block.fields.length > 0) {
    const fields = element('div', 'section-fields');
    for (const field of block.fields)
      fields.append(element('div', 'section-field mrkdwn', textHtml(field, ctx)));
    main.append(fields);
  }
  node.append(main);
  if (block.accessory) {
    const accessory = element('div', 'section-accessory');
    accessory.append(renderElement(block.accessory, ctx, message));
    node.append(accessory);
  }
  return node;
}

/** Interactive elements: buttons work; others are shown for what they are, disabled. */
function renderElement(item, ctx, message) {
  if (item?.type === 'image') return imageAlt(item);
  if (item?.type !== 'button') {
    const placeholder = element('span', 'element-unsupported', escapeHtml(item?.type ?? 'element'));
    placeholder.title = 'The sandbox does not draw this element';
    return placeholder;
  }
  const style = item.style === 'primary' || item.style === 'danger' ? ` ${item.style}` : '';
  if (item.url) {
    const link = element('a', `bk-button${style}`, textHtml(item.text, ctx));
    if (/^https?:/i.test(item.url)) link.href = item.url;
    link.target = '_blank';
    link.rel = 'noopener noreferrer';
    return link;
  }
  const button = element('button', `bk-button${style}`, textHtml(item.text, ctx));
  button.type = 'button';
  buttonElements.set(button, { ...item, messageTs: message.ts });
  return button;
}

/**
 * An input block: its label ("(optional)" where it is), a text box as Slack's client holds it
 * (required, at most `max_length`), its hint, and a place for the error a submission answers.
 * The page reads the box's value by the block's id (`data-block-id`).
 */
function renderInput(block, ctx) {
  const node = element('div', 'block-input');
  node.dataset.blockId = block.block_id ?? '';
  const item = block.element ?? {};
  if (item.type !== 'plain_text_input') {
    node.append(renderElement(item, ctx, {}));
    return node;
  }
  const box = document.createElement(item.multiline ? 'textarea' : 'input');
  box.className = 'input-box';
  box.id = `input-${node.dataset.blockId}`;
  box.required = block.optional !== true;
  if (item.max_length) box.maxLength = item.max_length;
  if (item.placeholder?.text) box.placeholder = item.placeholder.text;
  const optional = block.optional ? ' <span class="input-optional">(optional)</span>' : '';
  const label = element('label', 'input-label', `${textHtml(block.label, ctx)}${optional}`);
  label.htmlFor = box.id;
  node.append(label, box);
  if (block.hint) node.append(element('div', 'input-hint', textHtml(block.hint, ctx)));
  const error = element('div', 'input-error');
  error.setAttribute('role', 'alert');
  node.append(error);
  return node;
}

function imageAlt(item) {
  const node = element('span', 'image-alt', `🖼 ${escapeHtml(item.alt_text ?? 'image')}`);
  node.title = 'Images are not loaded in the sandbox';
  return node;
}
