import { h, mount, card } from '../dom.js';
import { header } from '../ui.js';

/** waiting renders a page whose API this platform does not serve yet. */
export function waiting(main, title, route) {
  mount(main, header(title),
    card(null, h('div', { class: 'alert info', role: 'status', 'data-waiting': route },
      `This platform does not serve ${route} yet, so there is nothing to show here. The page appears as soon as the API is deployed.`)));
}
