// /ops in the browser. A press on an alert's "acknowledge" that a redraw of the /ops feed cannot lose. When the feed is
// redrawn between the button going down and coming up, the button under the pointer is a new
// element and the browser sends no click at all; the press still counts when it ends on the button
// of the same alert (same id), and never on another alert's.
(function () {
  let down = null;
  const ackButton = (target) => (target instanceof Element ? target.closest("button.ack") : null);
  document.addEventListener("pointerdown", (event) => { down = ackButton(event.target); }, true);
  document.addEventListener("pointerup", (event) => {
    const up = ackButton(event.target);
    const pressed = down;
    down = null;
    if (pressed && up && up !== pressed && up.id === pressed.id && !pressed.isConnected) {
      up.click();
    }
  }, true);
})();
