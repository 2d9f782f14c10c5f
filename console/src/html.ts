/** htm bound to Preact's `h`: JSX-like templates without a compile step of their own. */
export { html } from 'htm/preact';
