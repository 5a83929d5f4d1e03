<?php
/**
 * Plugin Name: Kaffeekasse-Button
 * Description: [kaffeekasse] zeigt den Button deiner Kaffeekasse (ein Klick, ein Kaffee). [kaffeekasse variant="select"] mit Auswahl, [kaffeekasse variant="widget"] als Widget; lang="en" oder lang="de" legt die Sprache fest, sonst gilt die der Seite.
 * Version: 2.0
 * License: MIT
 *
 * Put this file into wp-content/plugins/ (or its body into a code-snippets plugin) and set
 * KAFFEEKASSE_URL below. The button is a plain form styled inline: no JavaScript, no cookies,
 * no stylesheet, nothing loaded from a third party, so the blog needs no consent banner for it.
 * The snippets are those of your jar's /embed page at the default price (COFFEE_PRICE_CENTS=500,
 * CURRENCY=eur); with another price, copy them from /embed into KAFFEEKASSE_SNIPPETS.
 */

if (!defined('ABSPATH')) {
    exit;
}

const KAFFEEKASSE_URL = 'https://kaffee.example.de';

const KAFFEEKASSE_SNIPPETS = array(
    'de' => array(
        'button' => <<<'HTML'
<form method="post" action="{url}/donate?lang=de" target="_top" style="margin:1em 0">
  <input type="hidden" name="lang" value="de">
  <button type="submit" style="display:inline-block;max-width:100%;margin:0;padding:.7em 1.2em;border:0;border-radius:.5em;background:#8a4b14;color:#fff;font:inherit;font-weight:700;line-height:1.3;text-align:center;white-space:normal;cursor:pointer">☕ Spendiere mir einen Kaffee – 5,00 €</button>
</form>
HTML,
        'select' => <<<'HTML'
<form method="post" action="{url}/donate?lang=de" target="_top" style="display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:1em 0">
  <input type="hidden" name="lang" value="de">
  <label style="display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:0;font-weight:600">Anzahl Kaffees
    <select name="coffees" style="max-width:100%;margin:0;padding:.6em;border:1px solid #6b5a4a;border-radius:.5em;background:#fff;color:#2b2118;font:inherit">
      <option value="1">1 Kaffee – 5,00 €</option>
      <option value="2">2 Kaffees – 10,00 €</option>
      <option value="3">3 Kaffees – 15,00 €</option>
      <option value="4">4 Kaffees – 20,00 €</option>
      <option value="5">5 Kaffees – 25,00 €</option>
    </select>
  </label>
  <button type="submit" style="display:inline-block;max-width:100%;margin:0;padding:.7em 1.2em;border:0;border-radius:.5em;background:#8a4b14;color:#fff;font:inherit;font-weight:700;line-height:1.3;text-align:center;white-space:normal;cursor:pointer">☕ Spendiere mir einen Kaffee</button>
</form>
HTML,
        'widget' => <<<'HTML'
<iframe src="{url}/widget?lang=de" title="Kaffeekasse – Unterstützer:innen und Button" loading="lazy" style="display:block;width:100%;max-width:360px;height:528px;border:0"></iframe>
HTML,
    ),
    'en' => array(
        'button' => <<<'HTML'
<form method="post" action="{url}/donate?lang=en" target="_top" style="margin:1em 0">
  <input type="hidden" name="lang" value="en">
  <button type="submit" style="display:inline-block;max-width:100%;margin:0;padding:.7em 1.2em;border:0;border-radius:.5em;background:#8a4b14;color:#fff;font:inherit;font-weight:700;line-height:1.3;text-align:center;white-space:normal;cursor:pointer">☕ Buy me a coffee – €5.00</button>
</form>
HTML,
        'select' => <<<'HTML'
<form method="post" action="{url}/donate?lang=en" target="_top" style="display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:1em 0">
  <input type="hidden" name="lang" value="en">
  <label style="display:flex;flex-wrap:wrap;gap:.5em;align-items:center;margin:0;font-weight:600">Number of coffees
    <select name="coffees" style="max-width:100%;margin:0;padding:.6em;border:1px solid #6b5a4a;border-radius:.5em;background:#fff;color:#2b2118;font:inherit">
      <option value="1">1 coffee – €5.00</option>
      <option value="2">2 coffees – €10.00</option>
      <option value="3">3 coffees – €15.00</option>
      <option value="4">4 coffees – €20.00</option>
      <option value="5">5 coffees – €25.00</option>
    </select>
  </label>
  <button type="submit" style="display:inline-block;max-width:100%;margin:0;padding:.7em 1.2em;border:0;border-radius:.5em;background:#8a4b14;color:#fff;font:inherit;font-weight:700;line-height:1.3;text-align:center;white-space:normal;cursor:pointer">☕ Buy me a coffee</button>
</form>
HTML,
        'widget' => <<<'HTML'
<iframe src="{url}/widget?lang=en" title="Kaffeekasse – supporters and button" loading="lazy" style="display:block;width:100%;max-width:360px;height:528px;border:0"></iframe>
HTML,
    ),
);

function kaffeekasse_button($atts) {
    $a = shortcode_atts(array('variant' => '', 'lang' => '', 'coffees' => ''), $atts, 'kaffeekasse');
    // The reader's language: the page's locale (multilingual plugins set it per page), unless
    // the shortcode names one.
    $lang = $a['lang'] !== '' ? $a['lang'] : substr(determine_locale(), 0, 2);
    $lang = $lang === 'en' ? 'en' : 'de';
    // Version 1's coffees="3" asked for a choice of coffees.
    $variant = $a['variant'] !== '' ? $a['variant'] : ($a['coffees'] !== '' ? 'select' : 'button');
    if (!isset(KAFFEEKASSE_SNIPPETS[$lang][$variant])) {
        $variant = 'button';
    }
    return str_replace('{url}', esc_url(KAFFEEKASSE_URL), KAFFEEKASSE_SNIPPETS[$lang][$variant]);
}
add_shortcode('kaffeekasse', 'kaffeekasse_button');
