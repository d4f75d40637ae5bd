/**
 * Pointy outputs in a notebook reopened without their kernel.
 *
 * A Pointy widget's output bundle carries the widget view, a text fallback (the saved snapshot
 * as `text/html`, or the printed text) and a small marker, `SAVED_VIEW_MIME`. ipywidgets'
 * renderer outranks `text/html`, so without this plugin JupyterLab prints "Error displaying
 * widget: model not found" where static viewers show the snapshot. The marker's renderer ranks
 * just above the widget view, shows the fallback, and swaps in the live widget (made by the
 * notebook's own widget-view renderer) only once that renderer has actually drawn a view. Other
 * widgets never carry the marker, so their rendering is untouched.
 *
 * Why this shape and not a wrapper around ipywidgets' per-notebook factory: the widget manager
 * installs that factory asynchronously, after the notebook's outputs were first rendered, and
 * re-binds only renderers that are direct children of an output area. A wrapper would have to
 * race both. Here we only read public things: the registry's factories and the view renderer's
 * children, and we create that renderer only once the manager's own factory is in place.
 */

import { JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import type { ISessionContext } from '@jupyterlab/apputils';
import { IRenderMimeRegistry } from '@jupyterlab/rendermime';
import type { IRenderMime } from '@jupyterlab/rendermime-interfaces';
import { PromiseDelegate } from '@lumino/coreutils';
import { Message } from '@lumino/messaging';
import { Panel, Widget } from '@lumino/widgets';

/** Put in the bundle by the kernel (pointy_jupyter/saved_view.py); its value is not read. */
export const SAVED_VIEW_MIME = 'application/vnd.pointy.saved-view+json';
const WIDGET_VIEW_MIME = 'application/vnd.jupyter.widget-view+json';
/** ipywidgets registers its view renderer at rank -10; lower ranks win. */
const RANK = -11;
/** How long to wait, after the session is ready, for the widget manager to bind its renderer. */
const BIND_WAIT_MS = 10_000;

type Showing = 'pending' | 'saved' | 'live';

/** Whatever holds the output area: a notebook panel or a console, found up the widget tree. */
interface Host {
  rendermime: IRenderMimeRegistry;
  sessionContext: ISessionContext | null;
}

export class SavedViewRenderer extends Panel implements IRenderMime.IRenderer {
  constructor(
    private readonly options: IRenderMime.IRendererOptions,
    private readonly appRendermime: IRenderMimeRegistry
  ) {
    super();
    this.addClass('pointy-saved-view');
    this.mark('pending');
  }

  async renderModel(model: IRenderMime.IMimeModel): Promise<void> {
    const modelId = widgetModelId(model);
    const again = this.model !== null;
    this.model = model;
    if (again && modelId === this.modelId && this.showing === 'live') {
      return; // the live view already follows its model; an updated bundle changes nothing
    }
    this.modelId = modelId;
    const generation = ++this.generation;
    const host = await this.host.promise;
    if (generation !== this.generation || this.isDisposed) return;
    if (again && this.showing === 'saved') {
      await this.showFallback(host, model); // a display update while we show the saved picture
      return;
    }
    await this.start(host, model, generation);
  }

  protected onAfterAttach(msg: Message): void {
    super.onAfterAttach(msg);
    this.host.resolve(findHost(this) ?? { rendermime: this.appRendermime, sessionContext: null });
  }

  dispose(): void {
    this.observer?.disconnect();
    this.observer = null;
    super.dispose();
  }

  private async start(host: Host, model: IRenderMime.IMimeModel, generation: number): Promise<void> {
    this.dropLive();
    let factory = boundFactory(host, this.appRendermime);
    if (factory === null) {
      // No manager yet (a notebook just opened): the saved picture until one binds its renderer.
      await this.showFallback(host, model);
      factory = await waitForBinding(host, this.appRendermime);
      if (factory === null || generation !== this.generation || this.isDisposed) return;
    }
    if (this.modelId === null) {
      await this.showFallback(host, model);
      return;
    }
    const live = factory.createRenderer({ ...this.options, mimeType: WIDGET_VIEW_MIME });
    live.hide(); // its "Loading widget..." or "model not found" text is never shown
    live.addClass('pointy-live-view');
    this.live = live;
    this.addWidget(live);
    // The view renderer draws again when the manager restores its state (a new kernel, or widget
    // state saved in the notebook): watch its children to learn whether a view came.
    this.observer = new MutationObserver(() => {
      if (!drawing) void this.settle(host, model, generation);
    });
    this.observer.observe(live.node, { childList: true });
    let drawing = true; // its first draw says nothing until it ends
    try {
      await live.renderModel(model);
    } catch (error) {
      console.warn('Pointy: the live widget could not be drawn; showing the saved picture', error);
      this.dropLive();
    }
    drawing = false;
    await this.settle(host, model, generation);
  }

  /** Show the live view if it drew one, else the saved picture. */
  private async settle(host: Host, model: IRenderMime.IMimeModel, generation: number): Promise<void> {
    if (generation !== this.generation || this.isDisposed) return;
    const live = this.live;
    const views = (live as Partial<Panel> | null)?.widgets;
    if (live !== null && views !== undefined && views.length > 0) {
      this.fallback?.renderer.dispose();
      this.fallback = null;
      live.show();
      this.mark('live');
      return;
    }
    if (live !== null && live.hasClass('jupyter-widgets')) {
      this.dropLive(); // the manager has restored and has no such model: it will not come
    }
    if (this.fallback === null) await this.showFallback(host, model);
  }

  private async showFallback(host: Host, model: IRenderMime.IMimeModel): Promise<void> {
    const data = Object.fromEntries(
      Object.entries(model.data).filter(([mime]) => mime !== WIDGET_VIEW_MIME && mime !== SAVED_VIEW_MIME)
    ) as IRenderMime.IMimeModel['data'];
    const mimeType = host.rendermime.preferredMimeType(data, model.trusted ? 'any' : 'ensure');
    const previous = this.fallback;
    if (mimeType === undefined) {
      previous?.renderer.dispose();
      this.fallback = null;
    } else if (previous !== null && previous.mimeType === mimeType) {
      await previous.renderer.renderModel(model);
    } else {
      previous?.renderer.dispose();
      const renderer = host.rendermime.createRenderer(mimeType);
      this.fallback = { mimeType, renderer };
      this.insertWidget(0, renderer);
      await renderer.renderModel(model);
    }
    if (this.showing !== 'live') this.mark('saved');
  }

  private dropLive(): void {
    this.observer?.disconnect();
    this.observer = null;
    this.live?.dispose();
    this.live = null;
  }

  private mark(showing: Showing): void {
    this.showing = showing;
    this.node.dataset.pointyShowing = showing; // for tests and styles
  }

  private host = new PromiseDelegate<Host>();
  private model: IRenderMime.IMimeModel | null = null;
  private modelId: string | null = null;
  private generation = 0;
  private showing: Showing = 'pending';
  private live: IRenderMime.IRenderer | null = null;
  private fallback: { mimeType: string; renderer: IRenderMime.IRenderer } | null = null;
  private observer: MutationObserver | null = null;
}

function widgetModelId(model: IRenderMime.IMimeModel): string | null {
  const view = model.data[WIDGET_VIEW_MIME] as { model_id?: unknown } | undefined;
  return view && typeof view.model_id === 'string' && view.model_id !== '' ? view.model_id : null;
}

function findHost(widget: Widget): Host | null {
  let rendermime: IRenderMimeRegistry | null = null;
  for (let w: Widget | null = widget.parent; w !== null; w = w.parent) {
    const candidate = w as unknown as Partial<Host>;
    if (rendermime === null && candidate.rendermime) rendermime = candidate.rendermime;
    if (rendermime !== null && candidate.sessionContext) {
      return { rendermime, sessionContext: candidate.sessionContext };
    }
  }
  return rendermime === null ? null : { rendermime, sessionContext: null };
}

/**
 * The host's widget-view factory once the widget manager has replaced the application's
 * placeholder with its own (bound to this notebook's manager); null before, or with no manager.
 */
function boundFactory(host: Host, appRendermime: IRenderMimeRegistry): IRenderMime.IRendererFactory | null {
  const factory = host.rendermime.getFactory(WIDGET_VIEW_MIME);
  if (factory === undefined || factory === appRendermime.getFactory(WIDGET_VIEW_MIME)) return null;
  return factory;
}

async function waitForBinding(
  host: Host,
  appRendermime: IRenderMimeRegistry
): Promise<IRenderMime.IRendererFactory | null> {
  if (host.sessionContext === null) return null;
  await host.sessionContext.ready;
  // The manager binds its factory a few promise turns after the session is ready; the registry
  // has no signal for it, so look again on a short, growing delay, for a bounded time.
  const deadline = Date.now() + BIND_WAIT_MS;
  for (let delay = 0; ; delay = Math.min(delay * 2 + 20, 500)) {
    const factory = boundFactory(host, appRendermime);
    if (factory !== null || Date.now() > deadline) return factory;
    if (!host.sessionContext.session?.kernel) return null; // no kernel: no manager will come
    await new Promise(resolve => setTimeout(resolve, delay));
  }
}

export const savedViewPlugin: JupyterFrontEndPlugin<void> = {
  id: 'pointy-labextension:saved-view',
  description: 'Pointy widgets reopened without their kernel show their saved picture',
  autoStart: true,
  requires: [IRenderMimeRegistry],
  activate: (_app: JupyterFrontEnd, rendermime: IRenderMimeRegistry) => {
    rendermime.addFactory(
      {
        safe: false, // like the widget view: an untrusted notebook shows its safe text/html
        mimeTypes: [SAVED_VIEW_MIME],
        createRenderer: options => new SavedViewRenderer(options, rendermime)
      },
      RANK
    );
  }
};
