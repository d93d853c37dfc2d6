//! Tooltips that open on hover and on keyboard focus, close on Escape and on leaving, and are
//! linked to their trigger by `aria-describedby`.

use leptos::ev;
use leptos::html;
use leptos::prelude::*;
use shipwatch_model::number_format::css_px;
use std::sync::atomic::{AtomicU32, Ordering};

static NEXT_ID: AtomicU32 = AtomicU32::new(1);

/// The open state of one tooltip and the id that links it to its trigger.
#[derive(Clone)]
pub struct TooltipState {
    /// Element id of the tooltip, for `aria-describedby`.
    pub id: String,
    /// Whether it shows.
    pub open: RwSignal<bool>,
}

impl TooltipState {
    /// A closed tooltip with a fresh id.
    pub fn new() -> Self {
        let n = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        Self {
            id: format!("tip-{n}"),
            open: RwSignal::new(false),
        }
    }

    /// Escape closes the tooltip without moving focus.
    pub fn on_keydown(&self) -> impl Fn(ev::KeyboardEvent) + 'static {
        let open = self.open;
        move |e| {
            if e.key() == "Escape" && open.get_untracked() {
                open.set(false);
                e.stop_propagation();
            }
        }
    }
}

impl Default for TooltipState {
    fn default() -> Self {
        Self::new()
    }
}

/// The wrapper that owns hover/focus handling and the bubble. `trigger` must carry
/// `aria-describedby = state.id` itself (it is the element with the accessible name).
#[component]
pub fn Tooltip(state: TooltipState, trigger: Children, bubble: ChildrenFn) -> impl IntoView {
    let open = state.open;
    let bubble_ref = NodeRef::<html::Div>::new();
    let shift = RwSignal::new(0.0_f64);
    let above = RwSignal::new(false);
    // Keep the bubble inside the viewport: measure once it shows, shift it back if it overflows.
    Effect::new(move |_| {
        if !open.get() {
            shift.set(0.0);
            above.set(false);
            return;
        }
        // Measured on the next frame, once the content is laid out.
        let el = bubble_ref.get_untracked();
        request_animation_frame(move || {
            // The row may be gone by then: a disposed signal is not an error here.
            if open.try_get_untracked() != Some(true) {
                return;
            }
            if let Some(el) = el {
                let rect = el.get_bounding_client_rect();
                let height = window()
                    .inner_height()
                    .ok()
                    .and_then(|h| h.as_f64())
                    .unwrap_or(768.0);
                // Flip above the trigger when it would leave the bottom, if there is room above.
                if rect.bottom() > height - 8.0 && rect.top() - rect.height() - 40.0 > 0.0 {
                    above.try_set(true);
                }
                let width = window()
                    .inner_width()
                    .ok()
                    .and_then(|w| w.as_f64())
                    .unwrap_or(1024.0);
                let overflow_right = rect.right() - (width - 8.0);
                if overflow_right > 0.0 {
                    shift.try_set(-overflow_right);
                } else if rect.left() < 8.0 {
                    shift.try_set(8.0 - rect.left());
                }
            }
        });
    });
    let keydown = state.on_keydown();
    view! {
        <span
            class="tooltip-anchor"
            on:mouseenter=move |_| open.set(true)
            on:mouseleave=move |_| { open.try_set(false); }
            on:focusin=move |_| open.set(true)
            on:focusout=move |_| { open.try_set(false); }
            on:keydown=keydown
        >
            {trigger()}
            <div
                node_ref=bubble_ref
                role="tooltip"
                id=state.id.clone()
                class="tooltip"
                class:tooltip--open=move || open.get()
                class:tooltip--above=move || above.get()
                style:transform=move || format!("translateX({})", css_px(shift.get()))
                hidden=move || !open.get()
            >
                // Content only while open: a thousand rows keep a thousand empty bubbles, not
                // a thousand rendered explanations.
                {move || open.get().then(|| bubble())}
            </div>
        </span>
    }
}
